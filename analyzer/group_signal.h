/*
 * group_signal.h - whether a signal the launcher got went to its whole process group
 * (group_signal.c): PROG, in that group, then has it already and needs no copy.
 */
#ifndef HG_GROUP_SIGNAL_H
#define HG_GROUP_SIGNAL_H

/* Start the sentinel watching these signals (the ones the launcher catches). 0, or -1 when it
 * cannot (every signal then counts as the launcher's alone). */
int hg_group_signal_start(const int *sigs, int n);

/* From the launcher's handler for sig: 1 when the group got sig too, else 0 (also when there is
 * no sentinel). Async-signal-safe; keeps errno. */
int hg_group_signal_reached(int sig);

/* Whether a sentinel is watching (started, not stopped yet). */
int hg_group_signal_watching(void);

/* Close the sentinel and wait for it to exit; signals from then on find none watching. */
void hg_group_signal_stop(void);

#endif /* HG_GROUP_SIGNAL_H */
