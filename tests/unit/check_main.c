/*
 * check_main.c - runs every unit-test suite in one SRunner
 *
 * Each tests/unit/check_<module>.c exports `Suite *<module>_suite(void)` (a large suite adds test
 * cases from check_<module>_<theme>.c files, through fixtures.h). The table below names them
 * all; a suite whose file is not in this build is a weak symbol left NULL and is skipped, so a
 * module's tests can land in the same commit as the module. Exit status is non-zero when any
 * test failed.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#define HG_SUITES(X) X(arena) X(ring) X(stack) X(format) X(trace) X(symbolize) X(replay) \
	X(addrmap) X(json) X(collector) X(suppress) X(baseline) X(stats) X(replay_stats) \
	X(maprange) X(timegrid) X(event_model) X(walk) X(units) X(clock) X(procfs) \
	X(gate_lines) X(lineage) X(frag) X(heaptop) X(ring_sweep) X(frames) \
	X(report_text) X(progmaps) X(world) X(procself) X(digits) X(touched) X(exec_env) \
	X(debug_cache) X(block_index)

#define HG_DECLARE(name) Suite *name##_suite(void) __attribute__((weak));
HG_SUITES(HG_DECLARE)

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	/* Symbolizing tests read debug files where they are, not from the user's cache. */
	setenv("HEAPGRAPH_CACHE", "off", 1);
#define HG_ADD(name) if (name##_suite) srunner_add_suite(sr, name##_suite());
	HG_SUITES(HG_ADD)
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
