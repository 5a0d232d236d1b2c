/*
 * wt_verifier.h - asserting that the driver verifier caught a bug
 * (docs/verifier.md): its report and its stop, from one child run.
 */
#ifndef OPENWSK_TEST_WT_VERIFIER_H
#define OPENWSK_TEST_WT_VERIFIER_H

#include "wt_bugcheck.h"

/* Runs fn in a child and returns 1 if it aborted after the report of
 * `rule` (with its id, unless id is 0), the stop (0xC4 with the id as
 * parameter 1, or another stop code as is, e.g. special pool's), and
 * `also` (if not NULL) somewhere in the output. */
static inline int wt_verifier_caught(void (*fn)(void *), const char *rule, unsigned id, unsigned stop_code,
                                     const char *also)
{
    static char out[65536];
    char head[128], stop[64];
    if (id != 0)
        snprintf(head, sizeof(head), "openwsk verifier: %s (rule 0x%05X)", rule, id);
    else
        snprintf(head, sizeof(head), "openwsk verifier: %s (rule 0x", rule);
    if (stop_code == 0xC4)
        snprintf(stop, sizeof(stop), "STOP: 0x000000C4 (0x%016X", id);
    else
        snprintf(stop, sizeof(stop), "STOP: 0x%08X", stop_code);
    int status = wt_child_output(fn, NULL, out, sizeof(out));
    int ok = status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(out, head) != NULL &&
             strstr(out, stop) != NULL && (also == NULL || strstr(out, also) != NULL);
    if (!ok)
        fprintf(stderr, "  child status 0x%x, output: %s\n", status, out);
    return ok;
}

#endif /* OPENWSK_TEST_WT_VERIFIER_H */
