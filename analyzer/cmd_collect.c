/*
 * cmd_collect.c - `heapgraph collect`: the collector the shim starts in bare mode
 *
 * Internal: `LD_PRELOAD=libheapgraph.so PROG` with no launcher makes the shim create a ring and
 * start `heapgraph collect --ring PATH -o FILE --root PID` in a session of its own. It drains
 * the ring until PID and the processes it started are gone. Its stdin and stdout are
 * /dev/null so that it never holds a pipe of the traced program open; stderr too unless
 * HEAPGRAPH_DEBUG is set.
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "collector.h"
#include "diag.h"
#include "hg_format.h"

static const char help[] =
	"usage: heapgraph collect --ring PATH -o FILE --root PID\n"
	"\n"
	"Internal: drains a ring created by the shim in bare mode (LD_PRELOAD without\n"
	"'heapgraph record') into a trace file, until process PID and its descendants end.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	const char *debug = getenv(HG_ENV_DEBUG);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (!debug || !*debug)
		dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

int hg_cmd_collect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ring", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "root", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *ring = NULL, *output = NULL;
	uint64_t root = 0;
	struct hg_collector *c;
	int ch, rc, status = 0;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":r:o:p:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': ring = optarg; break;
		case 'o': output = optarg; break;
		case 'p':
			if ((rc = hg_parse_u64("collect", "--root", optarg, 1, INT32_MAX, 0, &root)))
				return rc;
			break;
		case 'h': return hg_print_help(help);
		default: return hg_bad_option("collect", ch, argv);
		}
	}
	if (!ring || !output || !root)
		return hg_usage_error("collect", "--ring, -o and --root are required");
	detach_stdio();
	signal(SIGINT, on_signal);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, on_signal);
	if (!(c = hg_collector_attach(ring)))
		return HG_EXIT_INPUT;
	if (hg_collector_open_trace(c, output, HG_DEFAULT_ZSTD_LEVEL) < 0) {
		hg_collector_free(c);
		return HG_EXIT_INPUT;
	}
	rc = hg_collector_run(c, (pid_t)root, 0, &stop_flag, &status);
	hg_collector_free(c);
	return rc < 0 ? HG_EXIT_INPUT : HG_EXIT_OK;
}
