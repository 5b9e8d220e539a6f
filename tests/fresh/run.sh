#!/usr/bin/env bash
# tests/fresh/run.sh - does the README's test command work on a fresh Debian 12
# machine?  Makes a Debian 12 root as debootstrap --variant=minbase leaves it
# (the container suite's cached tarball when there is one), clones this
# checkout's HEAD into it, and runs in a chroot there, on the host kernel:
#
#   ./install.sh --tests --vm --container       (test.sh's install step)
#   make progs ethoswd ethoswd-asan build/test_minbtf
#   make lint ; pytest tests/unit ; pytest tests/host $FRESH_HOST
#
# so a test that leans on a package this machine happens to have, and
# install.sh does not name, fails here.  The container and VM suites are not
# run (podman and QEMU inside a chroot test the chroot, not the install).
#
#   tests/fresh/run.sh              all of the above (make fresh-check)
#   tests/fresh/run.sh setup        make the root, clone, install, build
#   tests/fresh/run.sh run CMD...   run CMD in the clone (after setup)
#
# FRESH_DIR  where the root goes (default /var/tmp/ethos-fresh; replaced by
#            setup, only if an earlier setup made it)
# FRESH_HOST pytest arguments for the host step (default: the files below)
#
# The chroot gets its own mount namespace: /proc, /sys (with tracefs,
# debugfs, bpffs, BTF), /dev are the host's, mounted there only and gone when
# the command ends.  Run as root.  The host step loads BPF programs on the
# host kernel, like the host suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DIR=${FRESH_DIR:-/var/tmp/ethos-fresh}
CLONE=/root/ethos-watchdog
MARK=.ethos-fresh-root
CACHE=/var/cache/ethos-watchdog/container
HOST_DEFAULT="tests/host/test_record.py tests/host/test_lifecycle.py
 tests/host/test_refusals.py tests/host/test_cfront_features.py"

say() { echo "fresh: $*"; }
fail() { echo "fresh: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "must run as root"

# in_root CMD...: CMD in the clone, chrooted, in a mount namespace of its own.
in_root() {
    [ -e "$DIR/$MARK" ] || fail "$DIR is not set up: run $0 setup"
    cp -L /etc/resolv.conf "$DIR/etc/resolv.conf"
    unshare --mount --propagation private -- /bin/sh -ec '
        d=$1; shift
        # The root a mount of its own, as on a machine: the tests own mount
        # namespaces (unshare --propagation private) need "/" to be one.
        mount --bind "$d" "$d"
        mount -t proc proc "$d/proc"
        mount --rbind /sys "$d/sys"
        mount --rbind /dev "$d/dev"
        mount -t tmpfs -o mode=0755 run "$d/run"
        exec chroot "$d" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            /bin/sh -c "cd $0 && exec \"\$@\"" sh "$@"' "$CLONE" "$DIR" "$@"
}

setup() {
    if [ -e "$DIR" ]; then
        [ -e "$DIR/$MARK" ] || fail "$DIR exists and is not a root this script made"
        ! grep -q " $DIR/" /proc/mounts || fail "something is mounted under $DIR"
        rm -rf "$DIR"
    fi
    mkdir -p "$DIR"
    local tarball
    tarball=$(ls "$CACHE"/debian12-bookworm-*.tar 2>/dev/null | head -n 1 || true)
    if [ -n "$tarball" ]; then
        say "root from $tarball (debootstrap --variant=minbase bookworm)"
        tar --numeric-owner -C "$DIR" -xf "$tarball"
    else
        command -v debootstrap >/dev/null || fail "no debootstrap: ./install.sh --container"
        say "debootstrap --variant=minbase bookworm $DIR"
        debootstrap --variant=minbase bookworm "$DIR" >"$DIR.debootstrap.log" 2>&1 \
            || fail "debootstrap (see $DIR.debootstrap.log)"
    fi
    # debootstrap's and the cached tarball's top directory come from mktemp
    # (0700): a machine's / is 0755, and the tests run programs as nobody.
    chmod 0755 "$DIR"
    touch "$DIR/$MARK"
    say "$(chroot "$DIR" dpkg-query -W -f='.\n' | wc -l) packages in the fresh root"
    # A clone as `git clone` makes it: tracked files only, of HEAD.
    git clone -q --no-hardlinks "$ROOT" "$DIR$CLONE"
    say "cloned $(git -C "$ROOT" rev-parse --short HEAD) into $CLONE"
    local before
    before=$(chroot "$DIR" dpkg-query -W -f='${Package}\n' | sort)
    in_root ./install.sh --tests --vm --container || fail "./install.sh --tests --vm --container"
    comm -13 <(echo "$before") <(chroot "$DIR" dpkg-query -W -f='${Package}\n' | sort) \
        >"$DIR.installed.txt"
    say "install.sh added $(wc -l <"$DIR.installed.txt") packages (list: $DIR.installed.txt)"
    in_root make -s progs ethoswd ethoswd-asan build/test_minbtf || fail "build"
}

case "${1:-all}" in
    setup) setup ;;
    run) shift; in_root "$@" ;;
    all)
        setup
        rc=0
        in_root make -s lint && say "lint: clean" || { say "lint: FAILED"; rc=1; }
        in_root /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/unit || rc=1
        # shellcheck disable=SC2086  # FRESH_HOST is a list of pytest arguments
        in_root /usr/bin/python3 -m pytest -q -p no:cacheprovider ${FRESH_HOST:-$HOST_DEFAULT} \
            || rc=1
        [ "$rc" = 0 ] && say "PASS" || say "FAIL"
        exit "$rc" ;;
    *) fail "unknown step '$1' (use setup, run CMD..., or nothing)" ;;
esac
