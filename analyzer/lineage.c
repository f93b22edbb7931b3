/*
 * lineage.c - the process tree of a trace's images, and the pairing of two traces' trees
 *
 * Each trace's images become nodes ordered by birth: start time, then index in the trace (the
 * index only breaks exact ties). A lineage parent always precedes its child in that order, so
 * the tree has no cycle whatever a damaged trace says. Siblings are kept sorted by place (how
 * they began, command line), then birth: pairing the children of two paired images is then one
 * merge of two sorted runs, in which the k-th of a place pairs with the k-th, and pairing whole
 * trees is a walk from the roots down, each pair's children merged once.
 *
 * Cost: O(n log n) for n images, so a trace of a shell loop's ten thousand processes pairs at
 * once.
 */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "lineage.h"

#define NONE UINT32_MAX

/* How an image began (lineage.h); the order is only the order siblings are sorted in. */
enum began { BEGAN_EXEC, BEGAN_FORK, BEGAN_SPAWN, BEGAN_ROOT };

/* One image in its trace's tree. */
struct node {
	const struct hg_image *im;
	char *place;        /* its command line with temporary names blanked (place_key) */
	uint32_t idx;       /* index in the trace's array: the last tie-break of birth order */
	uint32_t parent;    /* the lineage parent's idx, NONE for a root */
	int began;          /* enum began (for a root, BEGAN_ROOT) */
	int inherited;      /* its command line is its lineage parent's */
	int paired;         /* already in an entry (roots paired first) */
};

struct tree {
	struct node *v;     /* by idx */
	uint32_t n;         /* nodes in v and sib: the trace's images */
	struct node **sib;  /* all nodes by parent (roots first), place, birth */
	uint32_t *first;    /* the children of node p: sib[first[p + 1] .. first[p + 2]); the
			       roots: sib[first[0] .. first[1]) */
};

/* An entry of the pairing under construction. */
struct item {
	struct node *old, *now; /* either NULL */
	uint32_t parent;        /* item of the parents, NONE for roots */
	uint32_t self;          /* its own index */
};

struct items {
	struct item *v;
	size_t n, cap;
};

/* ---- one tree ------------------------------------------------------------------------- */

static int born_before(const struct node *a, const struct node *b)
{
	if (a->im->t_start_ns != b->im->t_start_ns)
		return a->im->t_start_ns < b->im->t_start_ns;
	return a->idx < b->idx;
}

static int birth_cmp(const struct node *a, const struct node *b)
{
	return born_before(a, b) ? -1 : born_before(b, a) ? 1 : 0;
}

static int by_pid_birth(const void *x, const void *y)
{
	const struct node *a = *(struct node *const *)x, *b = *(struct node *const *)y;

	if (a->im->pid != b->im->pid)
		return a->im->pid < b->im->pid ? -1 : 1;
	return birth_cmp(a, b);
}

/* The last image of pid born before x (by_pid is sorted by pid, then birth), or NULL. */
static struct node *last_before(struct node *const *by_pid, uint32_t n, uint32_t pid,
				const struct node *x)
{
	uint32_t lo = 0, hi = n; /* first entry not (of a lower pid, or of pid born before x) */

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct node *m = by_pid[mid];
		if (m->im->pid < pid || (m->im->pid == pid && born_before(m, x)))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && by_pid[lo - 1]->im->pid == pid ? by_pid[lo - 1] : NULL;
}

static void set_parent(struct node *x, struct node *const *by_pid, uint32_t n)
{
	const struct hg_image *im = x->im;
	struct node *p = NULL;

	if (im->exec && (p = last_before(by_pid, n, im->pid, x)))
		x->began = BEGAN_EXEC;
	else if ((p = last_before(by_pid, n, im->ppid, x)))
		x->began = im->forked ? BEGAN_FORK : BEGAN_SPAWN;
	else
		x->began = BEGAN_ROOT;
	x->parent = p ? p->idx : NONE;
	x->inherited = p && !strcmp(im->command, p->im->command);
}

/*
 * A command line as a place among siblings: the name right after a temporary directory
 * (/tmp/, /var/tmp/, /dev/shm/) reads as a star, keeping a short extension, since it is made
 * up afresh each run (gcc's cc1 writes /tmp/ccAbC123.s, mktemp gives /tmp/tmp.Xy3kQ0aB1z):
 * two runs of a compiler driver then pair their cc1s. /tmp/ccAbC123.s reads /tmp/STAR.s,
 * /tmp/tmp.Xy3kQ0aB1z reads /tmp/STAR, /tmp/d8Kq/a.o reads /tmp/STAR/a.o.
 */
/* Whether an absolute path can begin at cmd[i]: an argument's start, after '=' (--out=PATH),
 * or after a one-letter option (-oPATH). */
static int path_starts(const char *cmd, size_t i)
{
	if (i == 0 || cmd[i - 1] == ' ' || cmd[i - 1] == '=')
		return 1;
	return i >= 2 && cmd[i - 2] == '-' && (i == 2 || cmd[i - 3] == ' ') &&
	       ((cmd[i - 1] >= 'A' && cmd[i - 1] <= 'Z') || (cmd[i - 1] >= 'a' && cmd[i - 1] <= 'z'));
}

/* The length of the temporary directory s begins with, 0 for none. */
static size_t tmpdir_at(const char *s)
{
	static const char *const tmpdirs[] = { "/tmp/", "/var/tmp/", "/dev/shm/" };

	for (size_t d = 0; d < sizeof(tmpdirs) / sizeof(tmpdirs[0]); d++)
		if (!strncmp(s, tmpdirs[d], strlen(tmpdirs[d])))
			return strlen(tmpdirs[d]);
	return 0;
}

static char *place_key(const char *cmd)
{
	size_t n = strlen(cmd), o = 0;
	char *k = hg_xmalloc(n + 1);

	for (size_t i = 0; i < n;) {
		size_t dir = path_starts(cmd, i) ? tmpdir_at(cmd + i) : 0, end, dot;

		if (!dir) {
			k[o++] = cmd[i++];
			continue;
		}
		memcpy(k + o, cmd + i, dir);
		o += dir;
		i += dir;
		for (end = i; end < n && cmd[end] != '/' && cmd[end] != ' '; end++)
			;
		for (dot = end; dot > i && cmd[dot - 1] != '.'; dot--)
			;
		k[o++] = '*';
		if (dot > i + 1 && end - dot >= 1 && end - dot <= 4) { /* ".s", ".o", ".json" */
			memcpy(k + o, cmd + dot - 1, end - dot + 1);
			o += end - dot + 1;
		}
		i = end;
	}
	k[o] = '\0';
	return k;
}

/* Where a child stands among its siblings, regardless of birth: <0, 0 or >0 as strcmp. */
static int place_cmp(const struct node *a, const struct node *b)
{
	if (a->began != b->began)
		return a->began < b->began ? -1 : 1;
	if (a->inherited != b->inherited)
		return a->inherited ? -1 : 1;
	return a->inherited ? 0 : strcmp(a->place, b->place);
}

static int by_parent_place_birth(const void *x, const void *y)
{
	const struct node *a = *(struct node *const *)x, *b = *(struct node *const *)y;
	int c;

	if (a->parent != b->parent) /* NONE + 1 wraps to 0: the roots come first */
		return a->parent + 1 < b->parent + 1 ? -1 : 1;
	if ((c = place_cmp(a, b)))
		return c;
	return birth_cmp(a, b);
}

static void tree_build(struct tree *t, struct hg_image *const *im, uint32_t n)
{
	struct node **by_pid = hg_xmalloc(sizeof(*by_pid) * (n ? n : 1));

	t->v = hg_xcalloc(n ? n : 1, sizeof(*t->v));
	t->sib = hg_xmalloc(sizeof(*t->sib) * (n ? n : 1));
	t->first = hg_xcalloc((size_t)n + 2, sizeof(*t->first));
	t->n = n;
	for (uint32_t i = 0; i < n; i++) {
		t->v[i].im = im[i];
		t->v[i].place = place_key(im[i]->command);
		t->v[i].idx = i;
		by_pid[i] = t->sib[i] = &t->v[i];
	}
	qsort(by_pid, n, sizeof(*by_pid), by_pid_birth);
	for (uint32_t i = 0; i < n; i++)
		set_parent(&t->v[i], by_pid, n);
	free(by_pid);
	qsort(t->sib, n, sizeof(*t->sib), by_parent_place_birth);
	for (uint32_t i = 0; i < n; i++) /* counts, one slot ahead ... */
		t->first[t->v[i].parent + 1 + 1]++;
	for (uint32_t i = 1; i < n + 2; i++) /* ... summed into starts */
		t->first[i] += t->first[i - 1];
}

static void tree_release(struct tree *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->v[i].place);
	free(t->v);
	free(t->sib);
	free(t->first);
}

/* The children of x (NULL: the roots) as a run of t->sib. */
static struct node **children(const struct tree *t, const struct node *x, uint32_t *n)
{
	uint32_t slot = x ? x->idx + 1 : 0;

	*n = t->first[slot + 1] - t->first[slot];
	return t->sib + t->first[slot];
}

/* The earliest-born node of a run, or NULL when it is empty. */
static struct node *first_born(struct node *const *run, uint32_t n)
{
	struct node *best = NULL;

	for (uint32_t i = 0; i < n; i++)
		if (!best || born_before(run[i], best))
			best = run[i];
	return best;
}

const struct hg_image *hg_lineage_root(struct hg_image *const *im, uint32_t n)
{
	struct tree t;
	const struct node *first;
	const struct hg_image *root;
	struct node **roots;
	uint32_t n_roots;

	tree_build(&t, im, n);
	roots = children(&t, NULL, &n_roots);
	first = first_born(roots, n_roots);
	root = first ? first->im : NULL;
	tree_release(&t);
	return root;
}

/* ---- two trees ------------------------------------------------------------------------ */

static void add_item(struct items *it, struct node *old, struct node *now, uint32_t parent)
{
	HG_GROW(it->v, it->cap, it->n + 1);
	it->v[it->n] = (struct item){ old, now, parent, (uint32_t)it->n };
	it->n++;
	if (old)
		old->paired = 1;
	if (now)
		now->paired = 1;
}

/*
 * Pair two runs of siblings (each sorted by place, then birth) under item parent: the k-th of
 * a place in one with the k-th of that place in the other; the rest alone. Nodes already
 * paired are skipped.
 */
static void merge(struct items *it, struct node *const *o, uint32_t no, struct node *const *w,
		  uint32_t nw, uint32_t parent)
{
	uint32_t i = 0, j = 0;

	for (;;) {
		int c;
		while (i < no && o[i]->paired)
			i++;
		while (j < nw && w[j]->paired)
			j++;
		if (i == no && j == nw)
			return;
		c = i == no ? 1 : j == nw ? -1 : place_cmp(o[i], w[j]);
		add_item(it, c <= 0 ? o[i] : NULL, c >= 0 ? w[j] : NULL, parent);
		i += c <= 0;
		j += c >= 0;
	}
}

/* Every image of both trees into it: roots first, then each item's children in turn. */
static void pair_trees(struct items *it, const struct tree *old, const struct tree *now)
{
	struct node **ro, **rw, *fo, *fw;
	uint32_t no, nw;

	ro = children(old, NULL, &no);
	rw = children(now, NULL, &nw);
	fo = first_born(ro, no);
	fw = first_born(rw, nw);
	if (fo && fw) /* the program each trace recorded, whatever its command line */
		add_item(it, fo, fw, NONE);
	merge(it, ro, no, rw, nw, NONE);
	for (size_t k = 0; k < it->n; k++) {
		struct node *po = it->v[k].old, *pw = it->v[k].now, **co = NULL, **cw = NULL;
		no = nw = 0;
		if (po)
			co = children(old, po, &no);
		if (pw)
			cw = children(now, pw, &nw);
		merge(it, co, no, cw, nw, (uint32_t)k);
	}
}

/* Display order among the children of one item: the new trace's by birth, then the old's. */
static int by_parent_then_birth(const void *x, const void *y)
{
	const struct item *a = *(struct item *const *)x, *b = *(struct item *const *)y;

	if (a->parent != b->parent) /* NONE + 1 wraps to 0: the roots come first */
		return a->parent + 1 < b->parent + 1 ? -1 : 1;
	if (!a->now != !b->now)
		return a->now ? -1 : 1;
	return a->now ? birth_cmp(a->now, b->now) : birth_cmp(a->old, b->old);
}

/* The items depth first, each before its children: an explicit stack, as exec chains and
 * fork chains can be thousands deep. */
static struct hg_image_pair *preorder(const struct items *it)
{
	struct item **s = hg_xmalloc(sizeof(*s) * (it->n ? it->n : 1));
	uint32_t *first = hg_xcalloc(it->n + 2, sizeof(*first)), *stack;
	struct hg_image_pair *out = hg_xmalloc(sizeof(*out) * (it->n ? it->n : 1));
	size_t top = 0, k = 0;

	for (size_t i = 0; i < it->n; i++) {
		s[i] = &it->v[i];
		first[it->v[i].parent + 1 + 1]++;
	}
	for (size_t i = 1; i < it->n + 2; i++)
		first[i] += first[i - 1];
	qsort(s, it->n, sizeof(*s), by_parent_then_birth);
	stack = hg_xmalloc(sizeof(*stack) * (it->n ? it->n : 1));
	for (uint32_t i = first[1]; i-- > first[0];) /* the roots, first on top */
		stack[top++] = i;
	while (top) {
		const struct item *x = s[stack[--top]];
		out[k++] = (struct hg_image_pair){ x->old ? x->old->im : NULL,
						   x->now ? x->now->im : NULL };
		for (uint32_t i = first[x->self + 2]; i-- > first[x->self + 1];)
			stack[top++] = i;
	}
	free(stack);
	free(first);
	free(s);
	return out;
}

struct hg_image_pair *hg_lineage_pair(struct hg_image *const *old, uint32_t n_old,
				      struct hg_image *const *now, uint32_t n_now, size_t *n)
{
	struct tree to, tw;
	struct items it = { NULL, 0, 0 };
	struct hg_image_pair *out;

	tree_build(&to, old, n_old);
	tree_build(&tw, now, n_now);
	pair_trees(&it, &to, &tw);
	out = preorder(&it);
	*n = it.n;
	free(it.v);
	tree_release(&to);
	tree_release(&tw);
	return out;
}

const char *hg_lineage_program(const struct hg_image *im, size_t *len)
{
	const char *s = *im->exe ? im->exe : im->command;
	size_t end = *im->exe ? strlen(s) : strcspn(s, " ");
	size_t start = end;

	while (start > 0 && s[start - 1] != '/')
		start--;
	*len = end - start;
	return s + start;
}
