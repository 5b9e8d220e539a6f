#!/bin/sh
# container/entrypoint.sh - the image's entry point: headers for the kernel
# the container runs on (not the one that built the image), then the watchdog.
#
# With the host's /lib/modules and /usr/src mounted (see the Dockerfile),
# install.sh finds the host's headers link; without them it links the image's
# own linux-headers tree for this kernel.  Its lines go to stderr so that
# --json output stays clean; if it fails (a read-only /lib/modules without a
# link for this kernel), the watchdog says what is missing.
cd /opt/ethos-watchdog || exit 2
./install.sh --headers-only >&2 ||
    echo "entrypoint: no headers for $(uname -r): run ./install.sh on the host, or run without the /lib/modules and /usr/src mounts" >&2
exec /usr/bin/python3 /opt/ethos-watchdog/watchdog.py "$@"
