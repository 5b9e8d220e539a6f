// SPDX-License-Identifier: GPL-2.0
/*
 * choose.c - the decision half of ethoswd/features.py: what each backend,
 * action and budget key still lacks on the probed kernel
 * (backend_problem, action_problem, key_problem), features.choose(),
 * features.routes() and main._summary_line.  The probing itself is
 * features.c; the struct members the probe reads are offsets.c.
 */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "labels.h"
#include "strutil.h"
#include "wdfeatures.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* auto's order of preference is the enum's: lsm, kprobe, tracepoint. */
const int wd_action_order[WD_NACTION_ORDER] = {
	WD_ACT_DENY,
	WD_ACT_THROTTLE,
	WD_ACT_KILL,
	WD_ACT_MONITOR,
};

/* ---- choices ---------------------------------------------------------- */

/* "name: detail" of the first feature missing of `ids`, or NULL. */
static const char *first_missing(const struct wd_features *f, const int *ids, int n, char *buf,
				 size_t len)
{
	for (int i = 0; i < n; i++) {
		const struct wd_feature *ft = &f->feat[ids[i]];

		if (!ft->ok) {
			snprintf(buf, len, "%s: %s", ft->name, ft->detail);
			return buf;
		}
	}
	return NULL;
}

/* Every backend needs the limiter's map, atomics, events and the exit
 * tracepoint that removes dead processes; then its own attach points. */
const char *wd_backend_problem(const struct wd_features *f, int backend)
{
	static const int need[WD_NBACKENDS][9] = {
		[WD_BACKEND_LSM] = { WD_F_X86_64, WD_F_BPF, WD_F_CMPXCHG, WD_F_RINGBUF,
				     WD_F_TRACEPOINTS, WD_F_BTF, WD_F_LSM_ACTIVE, WD_F_LSM_LOAD,
				     -1 },
		[WD_BACKEND_KPROBE] = { WD_F_X86_64, WD_F_BPF, WD_F_CMPXCHG, WD_F_RINGBUF,
					WD_F_TRACEPOINTS, WD_F_KPROBES, WD_F_OVERRIDE,
					WD_F_ERROR_INJECTION, WD_F_OVERRIDE_PATH },
		[WD_BACKEND_TRACEPOINT] = { WD_F_X86_64, WD_F_BPF, WD_F_CMPXCHG, WD_F_RINGBUF,
					    WD_F_TRACEPOINTS, -1 },
	};
	static char buf[WD_NBACKENDS][640];
	int n = 0;

	if (backend < 0 || backend >= WD_NBACKENDS)
		return "unknown backend";
	while (n < 9 && need[backend][n] >= 0)
		n++;
	return first_missing(f, need[backend], n, buf[backend], sizeof(buf[0]));
}

const char *wd_action_problem(const struct wd_features *f, int backend, int action)
{
	/* A throttle that SIGCONT from another process undoes would not hold:
	 * no throttle without the watch that escalates to kill. */
	static const int signals[] = { WD_F_SEND_SIGNAL, WD_F_SEND_SIGNAL_THREAD, WD_F_SIGCONT };
	static char buf[2][640];

	if (action == WD_ACT_DENY && backend == WD_BACKEND_TRACEPOINT)
		return "deny needs a backend that can fail a call (kprobe or lsm); "
		       "a tracepoint can only count and signal";
	if (action == WD_ACT_THROTTLE)
		return first_missing(f, signals, 3, buf[0], sizeof(buf[0]));
	if (action == WD_ACT_KILL)
		return first_missing(f, signals, 2, buf[1], sizeof(buf[0]));
	return NULL;
}

const char *wd_key_problem(const struct wd_features *f, int key)
{
	static char buf[640];
	const struct wd_feature *cg = &f->feat[WD_F_CGROUP2];

	if (key != WD_KEY_CGROUP || cg->ok)
		return NULL;
	snprintf(buf, sizeof(buf),
		 "--key cgroup needs cgroup v2: %s; use --key uid or "
		 "--key tree",
		 cg->detail);
	return buf;
}

/* The SetupError of features.choose: in wd_fail() and in `why`. */
static int choose_fail(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return wd_fail("%s", msg);
}

/* The backend: the one asked for, or auto's strongest; -1 on failure. */
static int choose_backend(const struct wd_features *f, int backend, int action, char *why,
			  size_t len)
{
	char msg[2048];
	int chosen = -1;

	if (backend != WD_BACKEND_AUTO) {
		const char *problem = wd_backend_problem(f, backend);

		if (problem) {
			snprintf(msg, sizeof(msg),
				 "backend %s is not available on this "
				 "kernel: %s",
				 wd_backend_name(backend), problem);
			return choose_fail(why, len, msg);
		}
		snprintf(why, len, "backend requested");
		return backend;
	}
	for (int b = 0; b < WD_NBACKENDS && chosen < 0; b++)
		if (!wd_backend_problem(f, b) &&
		    !(action == WD_ACT_DENY && b == WD_BACKEND_TRACEPOINT))
			chosen = b;
	if (chosen < 0 && wd_backend_problem(f, WD_BACKEND_TRACEPOINT)) {
		snprintf(msg, sizeof(msg), "no backend works on this kernel: tracepoint: %s",
			 wd_backend_problem(f, WD_BACKEND_TRACEPOINT));
		return choose_fail(why, len, msg);
	}
	if (chosen < 0) {
		const char *lsm = wd_backend_problem(f, WD_BACKEND_LSM);
		const char *kp = wd_backend_problem(f, WD_BACKEND_KPROBE);

		snprintf(msg, sizeof(msg),
			 "--action deny is not possible on this kernel: "
			 "lsm: %s; kprobe: %s",
			 lsm ? lsm : "None", kp ? kp : "None");
		return choose_fail(why, len, msg);
	}
	snprintf(why, len, "backend: strongest available");
	for (int b = 0; b < chosen; b++)
		wd_cat(why, len, "%s%s (%s)", b ? "; " : "; unavailable: ", wd_backend_name(b),
		       wd_backend_problem(f, b));
	return chosen;
}

int wd_choose(const struct wd_features *f, int backend, int action, int *out_backend,
	      int *out_action, char *why, size_t len)
{
	char msg[2048];
	const char *problem;
	int chosen = choose_backend(f, backend, action, why, len);

	if (chosen < 0)
		return -1;
	if (action != WD_ACT_AUTO) {
		problem = wd_action_problem(f, chosen, action);
		if (problem) {
			snprintf(msg, sizeof(msg),
				 "action %s is not available with "
				 "backend %s: %s",
				 wd_action_name(action), wd_backend_name(chosen), problem);
			return choose_fail(why, len, msg);
		}
		wd_cat(why, len, "; action requested");
		*out_backend = chosen, *out_action = action;
		return 0;
	}
	for (size_t i = 0; i < NELEMS(wd_action_order); i++) {
		action = wd_action_order[i];
		/* Never auto's choice: auto fails calls or stops processes, it
		 * does not kill them. */
		if (action == WD_ACT_KILL)
			continue;
		problem = wd_action_problem(f, chosen, action);
		if (!problem)
			break;
		wd_cat(why, len, "; %s impossible: %s", wd_action_name(action), problem);
	}
	*out_backend = chosen, *out_action = action;
	return 0;
}

/* features.GENERAL_ROUTES: rows the same on every backend and action. */
static const char *const general_routes[] = { "tee, io_uring TEE", "io_uring URING_CMD",
					      "mmap'ed file pages" };

bool wd_route_general(const struct wd_route *rt)
{
	for (size_t i = 0; i < NELEMS(general_routes); i++)
		if (!strcmp(rt->route, general_routes[i]))
			return true;
	return false;
}

static void route(struct wd_route *rt, const char *name, const char *status, const char *how)
{
	wd_put(rt->route, sizeof(rt->route), "%s", name);
	wd_put(rt->status, sizeof(rt->status), "%s", status);
	wd_put(rt->how, sizeof(rt->how), "%s", how);
}

/* features._uring_rows: reads, SPLICE, SQPOLL and batches (3 rows). */
static void uring_rows(const struct wd_features *f, int backend, int action, struct wd_route *u)
{
	const struct wd_feature *uring = &f->feat[WD_F_URING];
	const char *splice = "io_uring SPLICE", *batch = "io_uring SQPOLL, batched submissions";
	char reads[96], how[256];

	wd_put(reads, sizeof(reads), "io_uring %s", f->uring_ops);
	if (backend == WD_BACKEND_LSM) {
		route(&u[0], reads, "counted",
		      "file_permission, inline or in an io-wq worker; a denied request "
		      "completes with -EPERM");
		route(&u[1], splice, "counted",
		      "file_permission of the source file, in the io-wq worker that runs it");
		route(&u[2], batch, "counted",
		      "each read is checked when it runs, in the SQPOLL thread too, so a "
		      "batch is limited read by read");
	} else if (!uring->ok) {
		route(&u[0], reads, "out of reach", uring->detail);
		route(&u[1], splice, "out of reach", uring->detail);
		route(&u[2], batch, "out of reach", uring->detail);
	} else if (backend == WD_BACKEND_KPROBE && action != WD_ACT_MONITOR) {
		wd_put(how, sizeof(how),
		       "io_uring_setup fails with EPERM for targets (no error-injection "
		       "point on an io_uring read); rings made before the start are "
		       "counted at %s, not failed",
		       uring->detail);
		route(&u[0], reads, "refused", how);
		route(&u[1], splice, "refused", "as the reads: no ring for targets");
		route(&u[2], batch, "refused", "as the reads: no ring for targets");
	} else {
		wd_put(how, sizeof(how), "each submitted request at %s, charged to its submitter",
		       uring->detail);
		route(&u[0], reads, "counted", how);
		wd_put(how, sizeof(how),
		       "each submitted request at %s; a read class looks at its source "
		       "(splice_fd_in)",
		       uring->detail);
		route(&u[1], splice, "counted", how);
		if (action == WD_ACT_THROTTLE)
			route(&u[2], batch, "killed",
			      "SIGSTOP stops neither a batch already in the kernel nor an "
			      "SQPOLL thread: a thread's second request past the limit in a "
			      "window gets the process SIGKILL; the rest of that batch still "
			      "runs");
		else if (action == WD_ACT_KILL)
			route(&u[2], batch, "killed",
			      "SIGKILL at the first request past the limit; the rest of that "
			      "batch still runs");
		else {
			wd_put(how, sizeof(how), "each request at %s", uring->detail);
			route(&u[2], batch, "counted", how);
		}
	}
}

/* features.routes: what the backend does with each route that moves a
 * file's bytes into a process. */
int wd_routes(const struct wd_features *f, int backend, int action, struct wd_route out[WD_NROUTES])
{
	static const char *const how_read[WD_NBACKENDS] = {
		[WD_BACKEND_LSM] = "file_permission, by syscall number",
		[WD_BACKEND_KPROBE] = "syscall entry",
		[WD_BACKEND_TRACEPOINT] = "syscall entry",
	};
	static const char *const how_copy[WD_NBACKENDS] = {
		[WD_BACKEND_LSM] = "file_permission of the source file, once per call",
		[WD_BACKEND_KPROBE] = "syscall entry (source fd: sendfile's 2nd argument)",
		[WD_BACKEND_TRACEPOINT] = "syscall entry (source fd: sendfile's 2nd argument)",
	};

	if (backend < 0 || backend >= WD_NBACKENDS)
		return -1;
	route(&out[0], "read, pread64, readv, preadv, preadv2", "counted", how_read[backend]);
	route(&out[1], "sendfile, splice, copy_file_range", "counted", how_copy[backend]);
	uring_rows(f, backend, action, &out[2]);
	route(&out[5], general_routes[0], "not a read",
	      "pipe to pipe only: copies buffers already in a pipe (put there by a counted "
	      "splice or by the process); reads no file");
	route(&out[6], general_routes[1], "out of reach",
	      "a command to the file's driver (NVMe passthrough reads a device's blocks), "
	      "as ioctl() is; no read hook sees it");
	route(&out[7], general_routes[2], "out of reach",
	      "page faults and plain loads: no call, no hook per read");
	return WD_NROUTES;
}

void wd_summary_line(const struct wd_features *f, char *buf, size_t len)
{
	snprintf(buf, len, "kernel %s; backends: ", f->kernel);
	for (int b = 0; b < WD_NBACKENDS; b++) {
		const char *problem = wd_backend_problem(f, b);

		wd_cat(buf, len, "%s%s ", b ? "; " : "", wd_backend_name(b));
		if (problem)
			wd_cat(buf, len, "no (%s)", problem);
		else
			wd_cat(buf, len, "yes");
	}
}
