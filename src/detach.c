// SPDX-License-Identifier: GPL-2.0
/*
 * detach.c - take every link of the probe down at once (wd_probe_detach(),
 * detach.h): the C counterpart of ethoswd/probe.py run_all().
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <bpf/libbpf.h>

#include "detach.h"

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/*
 * Destroy every link, all at once.  Releasing a tracepoint's link waits
 * for the kernel twice, each time a grace period (30-90 ms on the host)
 * under a global mutex: the program's removal
 * (perf_event_detach_bpf_prog(): synchronize_rcu_tasks_trace() under
 * bpf_event_mutex), then the tracepoint's unregistration
 * (perf_trace_destroy(): tracepoint_synchronize_unregister() under
 * event_mutex).  One link after another, that was two waits per link
 * (0.9 s for the 11 tracepoint links of a run on the host).  Each link now goes in a
 * thread of its own, so one link's first wait overlaps another's second:
 * one wait per link.  The mutexes keep the kernel from doing better.
 * The threads block every signal, so a signal still reaches the main
 * thread, as before.  A link whose thread cannot be made is destroyed
 * here, in turn; every link is gone on return.
 */
void wd_probe_detach(struct bpf_link **links, int n)
{
	pthread_t th[WD_MAX_LINKS];
	bool started[WD_MAX_LINKS] = {};
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < n; i++)
		started[i] = pthread_create(&th[i], NULL, destroy_link, links[i]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (int i = 0; i < n; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			bpf_link__destroy(links[i]);
	}
}
