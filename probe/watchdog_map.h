/* SPDX-License-Identifier: GPL-2.0 */
/*
 * watchdog_map.h - the layout shared by the eBPF probe and the front end.
 *
 * The front end reads this file to build matching ctypes structures and
 * to learn the defaults, so keep it plain: #defines and fixed-width
 * structs only, no kernel includes.
 *
 * Budgets live in a BPF hash map.  By default a budget is keyed by
 * process ID (the TGID: every thread of a process shares one budget);
 * WD_KEY selects another owner (a process tree, a user, a cgroup).  The
 * limiter is a fixed window anchored at a budget's first counted call:
 * the count restarts once the window's length (wd_config.window_ms) has
 * passed since the window began.
 */
#ifndef WATCHDOG_MAP_H
#define WATCHDOG_MAP_H

/* Defaults (the seed's MAX_CALLS and TIME_WINDOW): at most this many read
 * calls per window of this many milliseconds, per process. */
#define WD_DEFAULT_MAX_CALLS	 100
#define WD_DEFAULT_WINDOW_MS	 500
/* The fingerprint profile's limit (reads of kernel information files and
 * identity files per process tree or cgroup): see docs/watchdog_guide.md,
 * "Choosing what counts", for the measurements behind it. */
#define WD_FINGERPRINT_MAX_CALLS 16
#define WD_FINGERPRINT_WINDOW_MS 500

/* Bounds the front end enforces on user input.  The count of a window is
 * 32 bits and stops at WD_COUNT_MAX, leaving room for concurrent adds. */
#define WD_COUNT_MAX	   0xfffff000U
#define WD_MAX_CALLS_LIMIT 4000000000ULL
#define WD_WINDOW_MS_LIMIT 86400000ULL /* one day, far below the 2^31 ms wrap */

/* Constants of the kernel that both sides use: the length of a task's
 * command name with its NUL (TASK_COMM_LEN: names are at most 15 bytes),
 * and the task_struct.flags bit of a kernel thread (PF_KTHREAD). */
#define WD_COMM_LEN   16
#define WD_PF_KTHREAD 0x00200000

/* x86-64 syscall numbers of the routes that read a file into the caller
 * (the LSM shim and the recorder tell calls apart by them; the front ends
 * refuse to run on other architectures). */
#define WD_NR_READ	      0
#define WD_NR_PREAD64	      17
#define WD_NR_READV	      19
#define WD_NR_SENDFILE	      40
#define WD_NR_SPLICE	      275
#define WD_NR_PREADV	      295
#define WD_NR_COPY_FILE_RANGE 326
#define WD_NR_PREADV2	      327
#define WD_NR_IO_URING_ENTER  426

/* The syscalls that read a file into the caller, in the order both front
 * ends attach them: R(name, source fd's argument index, copy), the read
 * family first, then the calls that copy a file's bytes without a
 * read-family call (copy 1).  An X-macro so that the libbpf loader, the
 * feature check and abi.py (which reads these lines) share one list. */
#define WD_ROUTES(R)        \
	R(read, 0, 0)       \
	R(pread64, 0, 0)    \
	R(readv, 0, 0)      \
	R(preadv, 0, 0)     \
	R(preadv2, 0, 0)    \
	R(sendfile64, 1, 1) \
	R(splice, 0, 1)     \
	R(copy_file_range, 0, 1)

/* Sizes of the policy maps (limiter.h), which the front ends also enforce
 * on input: a repeatable option's names (--comm, --exclude-comm,
 * --exclude-exe) and the filesystems of --count hold WD_LIST_MAX each,
 * --file WD_FILES_MAX; wd_once (LSM backend, watchdog.bpf.c) holds
 * WD_ONCE_MAX threads inside a copy call. */
#define WD_LIST_MAX  64
#define WD_FILES_MAX 1024
#define WD_ONCE_MAX  10240

/* Entries in the budget map wd_state (and the maps of processes in shared
 * budgets); overridable with -DWD_MAX_PIDS. */
#ifndef WD_MAX_PIDS
#define WD_MAX_PIDS 65536
#endif

/* Actions, chosen by the front end at start (compiled in as WD_ACTION). */
#define WD_ACT_MONITOR	0 /* count and report, change nothing */
#define WD_ACT_DENY	1 /* fail the call with -EPERM */
#define WD_ACT_THROTTLE 2 /* SIGSTOP now, SIGCONT at window end */
#define WD_ACT_KILL	3 /* SIGKILL */

/* Budget keys: whose budget a call is charged to (compiled in as WD_KEY). */
#define WD_KEY_PROCESS 0 /* the thread group (TGID) */
#define WD_KEY_TREE    1 /* a target root and all its descendants, per user */
#define WD_KEY_UID     2 /* the caller's real user ID */
#define WD_KEY_CGROUP  3 /* the caller's cgroup v2 ID, per user */

/* Where a shared budget would group unrelated processes, the caller gets
 * a budget of its own (kind WD_KEY_PROCESS) instead: with the cgroup key,
 * callers in the root cgroup (the cgroup v2 ID of the hierarchy's root,
 * whose kernfs node is the first one made); with the uid key, UID 0 (the
 * system's daemons).  On a host whose processes all sit in the root
 * cgroup, one cgroup budget would otherwise be the whole host. */
#define WD_ROOT_CGROUP_ID 1
#define WD_ROOT_UID	  0

/* Event kinds sent through the ring buffer. */
#define WD_EV_LIMIT	1 /* first call over the limit in a window */
#define WD_EV_EXIT	2 /* a budget ended: final counts */
#define WD_EV_PROC_EXIT 3 /* a process of a shared budget exited */
/* throttle: another process of a shared budget was stopped in that window */
#define WD_EV_STOPPED	4
/* throttle: a process that ran on during its throttled window (resumed by
 * another process's SIGCONT, or its stop discarded) was killed */
#define WD_EV_ESCALATE	5
/* Pages of the event ring buffer (wd_events): 1 MiB, about 9 300 events
 * (104 bytes each, with the ring's 8-byte header).
 * A churning host (thousands of short-lived processes a second, each
 * leaving an exit event) fills 64 KiB in about 0.1 s, less than a busy
 * front end may wait for a CPU; events that do not fit are counted
 * (WD_H_EVENTS_LOST) and reported. */
#define WD_EVENT_PAGES	256
/* Front ends only: rows of exited processes (ended budgets, and shares of
 * exited processes with a shared key) kept for the tables and the summary,
 * the most recent ones; older ones are folded into the summary's
 * not_listed counts, so a long-running watchdog's memory stays bounded. */
#define WD_EXITED_ROWS	1000

/* Slots of the per-CPU health counters (map wd_health). */
#define WD_H_MAP_FULL	  0 /* calls not tracked: the state map was full */
/* calls that lost WD_CAS_TRIES window races (counted as over the limit) */
#define WD_H_CONTENDED	  1
#define WD_H_EVENTS_LOST  2 /* ring buffer full: an event was dropped */
#define WD_H_TARGETS_FULL 3 /* a target's child could not get an entry */
/* throttle: a stopped process could not get a wd_stops entry, so a SIGCONT
 * from another process would not be escalated for it */
#define WD_H_STOPS_FULL	  4
#define WD_H_SLOTS	  5

/* The recorder (WD_RECORD): pages of its ring buffer (64 MiB: about
 * 1.4 million records, several seconds of calls at full speed).  Records
 * lost to a full ring are counted in the per-CPU array wd_rec_lost. */
#define WD_RECORD_PAGES 16384
/* wd_record.call: which read-family syscall; WD_REC_LOSS marks a record
 * the front end writes where the probe lost records (count in tid). */
#define WD_REC_READ	0
#define WD_REC_PREAD64	1
#define WD_REC_READV	2
#define WD_REC_PREADV	3
#define WD_REC_PREADV2	4
#define WD_REC_LOSS	255

/* Key of the budget map.  A shared budget never spans users: tree and
 * cgroup budgets are split by the callers' real UID (the one the kernel's
 * kill() permission check compares), uid budgets are one user's, and the
 * fallbacks above are one process's. */
struct wd_key {
	__u64 id;   /* a TGID, a root TGID, a UID or a cgroup ID */
	__u32 uid;  /* real UID of the budget's callers (0 for a process) */
	__u32 kind; /* WD_KEY_*: the run's key, or WD_KEY_PROCESS (fallback) */
};

/*
 * Value of the budget map wd_state (keyed by struct wd_key: a process, a
 * process tree, a user or a cgroup).  `window` packs the current window and
 * its count into one 64-bit word so that one compare-and-swap updates
 * both: bits 63..32 hold the window start in milliseconds of
 * bpf_ktime_get_ns() (mod 2^32), bits 31..0 the calls counted in it.
 */
struct wd_value {
	__u64 window;		/* (start_ms << 32) | calls_in_window */
	__u64 allowed;		/* calls within the limit, ever */
	__u64 limited;		/* calls over the limit, ever */
	__u64 limited_windows;	/* windows in which the limit was hit */
	char comm[WD_COMM_LEN]; /* command name when first seen */
	__u64 members;		/* WD_KEY_TREE: live processes of the tree
					   (64-bit: BPF's fetch-and-add returns
					   a 32-bit value only with alu32) */
	__u32 pid;		/* the process that opened the window */
	__u32 pad;
	__u64 reported; /* 1 << 32 | start_ms of the last window over (0: none) */
};

/* A target of a shared budget (WD_KEY != WD_KEY_PROCESS with targets):
 * map wd_member, keyed by TGID.  `root` is the target root it descends
 * from, so a whole tree shares one budget whatever sessions it makes;
 * `uid` is the real UID the root runs as (-u USER, or the -p process's),
 * whose budget of the tree counts the tree's live processes.  A member
 * running as another user (after setuid()) is charged to that user's
 * budget of the tree. */
struct wd_member {
	__u32 root;
	__u32 uid;
};

/* One process of a shared budget (map wd_procs, keyed by TGID): which
 * budget its last counted call went to, and its own share of it. */
struct wd_proc {
	__u64 key; /* wd_key.id of that budget ... */
	__u64 allowed;
	__u64 limited;
	char comm[WD_COMM_LEN];
	__u32 key_uid;	/* ... its wd_key.uid */
	__u32 key_kind; /* ... and wd_key.kind */
};

/*
 * A process throttle stopped (map wd_stops, keyed by TGID): the window of
 * its last stop and whether another process resumed it before that window
 * ended (probe/limiter.h, wd_sigcont).  `state` packs the window start (ms,
 * as in wd_value.window) and the WD_STOP_* bits into one word, so that a
 * compare-and-swap moves both at once.
 */
struct wd_stop {
	__u64 state;		   /* (window_start_ms << 32) | WD_STOP_* */
	__u64 stop_ns;		   /* when its stop in window stop_win was sent
					      (bpf_ktime_get_ns; ~0: not yet) */
	__u32 stop_win;		   /* the window start stop_ns belongs to */
	__u32 by_pid;		   /* the SIGCONT's sender: the process running
					      when it was generated */
	__s32 by_code;		   /* its si_code: SI_USER 0, SI_TKILL -6, ... */
	char by_comm[WD_COMM_LEN]; /* the sender's command name */
	__u32 pad;
};
#define WD_STOP_RESUMED	  1 /* resumed by another process in that window */
#define WD_STOP_REPORTED  2 /* killed for it, and reported once */
/* it ran on in the window of its stop with no SIGCONT seen: a thread
 * called again after its own stop, or a thread made after the process's
 * stop called at all; the stop was discarded (a tracer can) */
#define WD_STOP_UNSTOPPED 4

/* A file by device and inode, as the kernel numbers them (dev_t is
 * MAJOR << 20 | MINOR): maps wd_files (--file) and wd_exe_out
 * (--exclude-exe).  A hard link or a bind mount has the same pair. */
struct wd_file {
	__u64 dev;
	__u64 ino;
};

/* Run-time settings, one entry in the array map wd_config. */
struct wd_config {
	__u32 max_calls; /* calls allowed per window */
	__u32 window_ms; /* window length in milliseconds */
};

/*
 * Settings fixed at start.  watchdog.py (BCC) compiles them in as -D
 * switches; ethoswd (libbpf) sets them in the object's read-only data
 * before the load, where the verifier treats them as constants
 * (compat.h maps both to the same names).
 */
struct wd_settings {
	__u32 action;	  /* WD_ACT_* */
	__u32 key;	  /* WD_KEY_* */
	__u32 self_tgid;  /* the front end: never acted on */
	__u32 guard_tgid; /* its guardian (throttle), or 0 */
	__u8 targets;	  /* act only on targets (wd_state/wd_member) */
	__u8 comm_in;	  /* act only on comms in wd_comm_in */
	__u8 comm_out;	  /* never on comms in wd_comm_out */
	__u8 exclude_exe; /* never on executables in wd_exe_out */
	__u8 count_fs;	  /* count files on filesystems in wd_fs */
	__u8 count_files; /* ... or files in wd_files */
	__u8 typed_file;  /* read a file's members by typed loads (below) */
	__u8 pad;
	__u32 file_btf_id; /* struct file's BTF type id (typed_file) */
};

/*
 * The helper number the probe calls for bpf_rdonly_cast(), a kfunc (Linux
 * 6.2+) that gives a kernel address a BTF type, so that the verifier lets
 * the program load its members directly (exception-handled loads) instead
 * of one bpf_probe_read_kernel() call per member.  The probe is built
 * without kernel BTF ids, so it calls this number, which no kernel gives a
 * helper; before the load the front end rewrites each such call into the
 * kfunc call with the running kernel's id (typed_file), or, without the
 * kfunc, leaves it in code that typed_file 0 makes dead, which the
 * verifier drops unread.
 */
#define WD_CAST_MARK 0x7ffff0

/* Ring-buffer record for every WD_EV_* kind. */
struct wd_event {
	__u32 kind;	       /* WD_EV_* */
	__u32 tgid;	       /* the process that called or exited */
	__u32 window_start_ms; /* start of the window concerned */
	__u32 calls;	       /* calls in that window so far */
	__u64 key;	       /* the budget (wd_key.id, with key_uid
					   and key_kind below) */
	__u64 allowed;	       /* totals at the time of the event (the
					   process's own for WD_EV_PROC_EXIT) */
	__u64 limited;
	__u64 limited_windows;
	char comm[WD_COMM_LEN];
	__u32 key_uid;	/* wd_key.uid of the budget */
	__u32 key_kind; /* wd_key.kind of the budget */
	/* WD_EV_ESCALATE: why (WD_STOP_RESUMED or WD_STOP_UNSTOPPED) and, for
	 * RESUMED, who sent the SIGCONT (struct wd_stop); 0 otherwise */
	__u32 why;
	__u32 by_pid;
	__s32 by_code;
	char by_comm[WD_COMM_LEN];
	__u32 pad2;
};

/*
 * One read-family call of a target, as the recorder (WD_RECORD) sends it
 * through the ring buffer wd_records: every budget key it could be
 * charged to and its file's class, so that any policy can be replayed
 * offline (ethoswd/research/replay.py).  Also the record layout of a recording
 * file (ethoswd/research/recording.py), little-endian, 40 bytes.
 */
struct wd_record {
	__u64 t_ns;   /* bpf_ktime_get_ns() at syscall entry */
	__u32 tid;    /* calling thread (WD_REC_LOSS: records lost) */
	__u32 tgid;   /* its process: the process key */
	__u32 root;   /* its target root: the tree key (0: none) */
	__u32 uid;    /* real UID: the uid key */
	__u64 cgroup; /* cgroup v2 ID: the cgroup key */
	__u32 magic;  /* s_magic of the fd's filesystem (0: no file) */
	__u8 listed;  /* the file is in wd_files (--file, identity) */
	__u8 call;    /* WD_REC_* */
	__u16 pad;
};

#endif /* WATCHDOG_MAP_H */
