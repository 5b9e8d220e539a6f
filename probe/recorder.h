/* SPDX-License-Identifier: GPL-2.0 */
/*
 * recorder.h - the recorder (WD_RECORD): one record per read-family call
 * of a target, instead of counting it.
 *
 * `watchdog.py record` and `sweep` compile the probe with WD_RECORD and
 * the tracepoint backend.  The caller filter is the limiter's own
 * (wd_caller in limiter.h: targets, --comm, exclusions), so a recording
 * holds exactly the calls the watchdog would have looked at; the record
 * carries every budget key and the file's class, and ethoswd/research/replay.py
 * applies limiter.h's fixed window offline.  Nothing is counted or
 * enforced here; with WD_RECORD unset this file compiles to nothing.
 */
#ifndef WD_RECORDER_H
#define WD_RECORDER_H

#ifdef WD_RECORD
#include "limiter.h"

/* The records, and the calls whose record found the ring full (per CPU:
 * no atomics; the front end sums the slots and marks the file). */
BPF_RINGBUF_OUTPUT(wd_records, WD_RECORD_PAGES);
BPF_PERCPU_ARRAY(wd_rec_lost, __u64, 1);

/* The syscall number of a read-family call (WD_NR_*) -> WD_REC_*. */
static __always_inline __u8 wd_rec_call(__s64 nr)
{
	switch (nr) {
	case WD_NR_PREAD64:
		return WD_REC_PREAD64;
	case WD_NR_READV:
		return WD_REC_READV;
	case WD_NR_PREADV:
		return WD_REC_PREADV;
	case WD_NR_PREADV2:
		return WD_REC_PREADV2;
	}
	return WD_REC_READ;
}

/* Send one record of a call on `fd` by the filtered caller `c`. */
static __always_inline void wd_record_call(struct wd_caller *c, __u64 fd, __s64 nr)
{
	struct wd_record *r = wd_rb_reserve(wd_records, sizeof(*r));

	if (!r) {
		int zero = 0;
		__u64 *lost = wd_lookup(wd_rec_lost, &zero);

		if (lost)
			(*lost)++;
		return;
	}
	r->t_ns = bpf_ktime_get_ns();
	r->tid = (__u32)bpf_get_current_pid_tgid();
	r->tgid = c->tgid;
	/* wd_caller found the target root for a tree. */
	r->root = WD_ON_MEMBERS && WD_KEY == WD_KEY_TREE ? c->key.id : 0;
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->cgroup = bpf_get_current_cgroup_id();
	r->call = wd_rec_call(nr);
	r->pad = 0;
	r->magic = 0;
	r->listed = 0;

	const void *file = wd_fd_file(fd);

	if (file) {
		r->magic = (__u32)wd_file_magic(file);
		if (WD_ON_COUNT_FILES) {
			struct wd_file id = {};

			wd_file_id(file, &id);
			r->listed = wd_lookup(wd_files, &id) != NULL;
		}
	}
	/* Adaptive wake-up (flags 0): the reader is woken only when it has
	 * caught up, so a burst costs one wake-up, not one per call. */
	wd_rb_submit(wd_records, r, 0);
}
#endif /* WD_RECORD */

#endif /* WD_RECORDER_H */
