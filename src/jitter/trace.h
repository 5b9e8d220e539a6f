/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trace.h - ptrace stops (trace.c): exec, rdtsc/rdtscp, group-stops, exits.
 */
#ifndef WD_CLOCKD_TRACE_H
#define WD_CLOCKD_TRACE_H

#include <sys/types.h>

int trace_seize(pid_t pid);
void trace_event(pid_t tid, int status);

#endif
