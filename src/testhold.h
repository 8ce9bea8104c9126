/* testhold.h - a test-only hold at an iteration boundary, so that a test can
 * act (send a signal, kill a process, read the archive) while a run is
 * certainly still going, on any machine speed: STYLESWEEP_TEST_HOLD=RUN:ITER:DIR
 * makes the process computing run RUN (its index in the archive, or * for
 * any run) wait at the first boundary after an iteration >= ITER, once per
 * run and process. Not for use outside tests. */
#ifndef SS_TESTHOLD_H
#define SS_TESTHOLD_H

/* Waits at a boundary when STYLESWEEP_TEST_HOLD asks for run `run` after
 * iteration `iteration`: writes DIR/held-RUN (this process's pid) and waits
 * until DIR/release exists. While it waits it asks should_stop(ctx); the
 * first time that answers non-zero it writes DIR/stopped-RUN (so the test
 * sees that the stop reached the run) and goes on waiting for the release.
 * Returns at once when the variable is unset, malformed or does not match.
 * *held is this run's flag in this process (0 at first; 1 once it held). */
void ss_test_hold(int *held, int run, int iteration, int (*should_stop)(void *ctx), void *ctx);

#endif
