"""What a run does with each route that moves a file's bytes into a
process (the start lines, --probe-features, features_report.c's rows), and
how its probe reads a call's file: words from the probed features
(features.py), no probing of their own.
"""


def file_reads(feats, flags):
    """How this run's probe reads a call's file (the start line), or None
    when it reads none (no read class, no --file)."""
    if not any(f.startswith("-DWD_OFF_FDT_FD=") for f in flags):
        return None
    if any(f.startswith("-DWD_FILE_BTF_ID=") for f in flags):
        return ("typed loads (bpf_rdonly_cast): one bpf_probe_read_kernel "
                "per check, for the fd's slot")
    return ("bpf_probe_read_kernel, four per check (%s: %s)"
            % (feats.typed_file.name, feats.typed_file.detail))


# Routes whose row is the same on every backend and action: said at the
# start, not warned about.
GENERAL_ROUTES = ("tee, io_uring TEE", "io_uring URING_CMD", "mmap'ed file pages")


def _uring_rows(feats, backend, action):
    """The io_uring rows of routes(): reads, SPLICE, SQPOLL and batches."""
    uring, tp = feats.uring, feats.uring.detail
    reads = "io_uring " + ", ".join(feats.uring_ops)
    names = (reads, "io_uring SPLICE", "io_uring SQPOLL, batched submissions")
    if backend == "lsm":
        return list(zip(names, ("counted",) * 3, (
            "file_permission, inline or in an io-wq worker; a denied request "
            "completes with -EPERM",
            "file_permission of the source file, in the io-wq worker that runs it",
            "each read is checked when it runs, in the SQPOLL thread too, so a "
            "batch is limited read by read")))
    if not uring:
        return [(n, "out of reach", uring.detail) for n in names]
    if backend == "kprobe" and action != "monitor":
        return [(reads, "refused",
                 "io_uring_setup fails with EPERM for targets (no error-injection "
                 "point on an io_uring read); rings made before the start are "
                 "counted at %s, not failed" % tp),
                (names[1], "refused", "as the reads: no ring for targets"),
                (names[2], "refused", "as the reads: no ring for targets")]
    batch = {"throttle": ("killed", "SIGSTOP stops neither a batch already in the "
                          "kernel nor an SQPOLL thread: a thread's second request "
                          "past the limit in a window gets the process SIGKILL; "
                          "the rest of that batch still runs"),
             "kill": ("killed", "SIGKILL at the first request past the limit; the "
                      "rest of that batch still runs")}.get(
                          action, ("counted", "each request at %s" % tp))
    return [(reads, "counted",
             "each submitted request at %s, charged to its submitter" % tp),
            (names[1], "counted", "each submitted request at %s; a read class "
             "looks at its source (splice_fd_in)" % tp),
            (names[2],) + batch]


def routes(feats, backend, action):
    """What the backend does with each route that moves a file's bytes into
    a process: [(route, status, how)], status one of "counted" (and failed
    with deny), "refused", "killed" (a signal cannot stop it: the process
    is killed), "out of reach", "not a read"."""
    rows = [("read, pread64, readv, preadv, preadv2", "counted",
             {"lsm": "file_permission, by syscall number",
              "kprobe": "syscall entry", "tracepoint": "syscall entry"}[backend]),
            ("sendfile, splice, copy_file_range", "counted",
             {"lsm": "file_permission of the source file, once per call",
              "kprobe": "syscall entry (source fd: sendfile's 2nd argument)",
              "tracepoint": "syscall entry (source fd: sendfile's 2nd argument)"}
             [backend])]
    rows += _uring_rows(feats, backend, action)
    rows += [(GENERAL_ROUTES[0], "not a read",
              "pipe to pipe only: copies buffers already in a pipe (put there by "
              "a counted splice or by the process); reads no file"),
             (GENERAL_ROUTES[1], "out of reach",
              "a command to the file's driver (NVMe passthrough reads a device's "
              "blocks), as ioctl() is; no read hook sees it"),
             (GENERAL_ROUTES[2], "out of reach",
              "page faults and plain loads: no call, no hook per read")]
    return rows
