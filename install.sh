#!/usr/bin/env bash
# install.sh - install what the watchdog needs on Debian 12 (run as root, or
# with sudo in front from another account; it never calls sudo itself).
#
#   ./install.sh            the watchdog: BCC (python3-bpfcc), libbpf, headers,
#                             and build/ethos-clockd (--jitter's supervisor:
#                             gcc, make, libc headers)
#   ./install.sh --ethoswd  + what `make ethoswd` builds with: clang, llvm,
#                             bpftool, libbpf-dev, libmicrohttpd-dev (ethoswd
#                             itself then runs with libbpf1, libmicrohttpd12
#                             and the kernel's BTF only)
#   ./install.sh --tests    + everything ./test.sh's suites use: pytest, gcc,
#                             bpftool, systemd-analyze, the ethoswd build
#                             tools, lint's flake8, clang-format and git,
#                             python3-matplotlib (the sweep test's plots),
#                             prometheus and prometheus-node-exporter,
#                             Node.js + npm with the Kubernetes manifest
#                             checker (npm ci in tests/kube, from its lockfile)
#   ./install.sh --vm       + the QEMU bed: qemu, busybox, kernel build deps
#   ./install.sh --research + what `watchdog.py sweep research/corpus.toml`
#                             runs and plots: the corpus's Debian packages,
#                             python3-matplotlib, research/bin/fingerprint;
#                             the jitter attackers (research/jitter/bin) and
#                             nodejs for their everyday-program timings
#   ./install.sh --container + the container test: podman, runc, debootstrap
#   --no-kube               with --tests or --container: no Node.js, npm or
#                           manifest checker (the Dockerfile's images run
#                           neither check)
#   --no-headers / --headers-only   skip / only do the headers link below
#                           (an image build runs on another kernel than the
#                           image will: the Dockerfile links at run time)
#
# Kernel headers: BCC compiles the probe against /lib/modules/$(uname -r)/build.
# When the running kernel has no headers package (custom or cloud kernels, such
# as the 6.18 development machines), this links that path to the newest Debian
# linux-headers-*-amd64 tree.  That is enough for this probe: it includes no
# kernel struct layouts (the LSM shim reads its offsets from the running
# kernel's BTF), so it needs only BCC's own helper headers.  The link is
# printed, and removed by nothing: delete /lib/modules/$(uname -r)/build to undo.
set -euo pipefail
cd "$(dirname "$0")"

want_ethoswd=0 want_tests=0 want_vm=0 want_research=0 want_container=0 headers=1 packages=1 kube=1
for arg in "$@"; do
    case "$arg" in
        --ethoswd) want_ethoswd=1 ;;
        --tests) want_tests=1 want_ethoswd=1 ;;
        --vm) want_vm=1 ;;
        --research) want_research=1 ;;
        --container) want_container=1 ;;
        --no-headers) headers=0 ;;
        --no-kube) kube=0 ;;
        --headers-only) packages=0 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option '$arg' (use --ethoswd, --tests, --vm, --research, --container, --no-kube, --no-headers, --headers-only)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: must run as root: run it in a root shell, or as: sudo $0${*:+ $*}" >&2
    exit 2
fi
if ! grep -q '^ID=debian' /etc/os-release 2>/dev/null; then
    echo "install.sh: warning: written for Debian 12; continuing" >&2
fi

# python3-prometheus-client: watchdog.py's --metrics-file/--metrics-listen
# (imported only then); libmicrohttpd12: ethoswd's HTTP metrics; gcc, make,
# libc6-dev: build/ethos-clockd, --jitter's supervisor (built below).
RUNTIME_PKGS="python3 python3-bpfcc bpfcc-tools libbpf1 libmicrohttpd12 python3-prometheus-client
 linux-headers-amd64 kmod gcc make libc6-dev"
# Every package a test or test.sh step uses: a fresh Debian 12 minbase has
# none of these (tests/fresh/run.sh checks it; `make fresh-check`).  lint:
# flake8, clang-format, git (its list of C files); test_record's sweep:
# python3-matplotlib (the plots); test_parity: strace; tests/host/
# test_metrics.py: prometheus, prometheus-node-exporter (it scrapes the
# watchdog with a real Prometheus on localhost).
TEST_PKGS="python3-pytest python3-flake8 clang-format git gcc make libc6-dev bpftool
 util-linux procps systemd python3-matplotlib strace prometheus prometheus-node-exporter"
ETHOSWD_PKGS="clang llvm bpftool libbpf-dev libmicrohttpd-dev gcc make libc6-dev"
# research/corpus.toml: fingerprinting tools, everyday programs, plots;
# research/jitter/run.py --everyday also times node, tar, sha256sum.
RESEARCH_PKGS="python3-matplotlib gcc make libc6-dev lshw neofetch virt-what inxi
 pciutils util-linux procps systemd dmidecode git xz-utils perl apt nodejs tar coreutils"
# runc, not crun: crun fails on hybrid cgroup hosts (tests/container/run.sh).
# catatonit: the pause process of a pod's infra container (podman kube play,
# tests/container/kube_play.sh); podman only recommends it.
CONTAINER_PKGS="podman runc debootstrap catatonit"
# tests/kube (the manifest check; the Pod the container suite plays):
# Debian's nodejs 18 and npm 9.  A Node.js that brings its own npm (e.g.
# NodeSource's, which conflicts with Debian's npm package) is used as it is.
KUBE_PKGS="nodejs"
command -v npm >/dev/null 2>&1 || KUBE_PKGS="nodejs npm"
pkgs="$RUNTIME_PKGS"
[ "$want_tests" = 1 ] && pkgs="$pkgs $TEST_PKGS"
[ "$want_ethoswd" = 1 ] && pkgs="$pkgs $ETHOSWD_PKGS"
[ "$want_research" = 1 ] && pkgs="$pkgs $RESEARCH_PKGS"
[ "$want_container" = 1 ] && pkgs="$pkgs $CONTAINER_PKGS"
{ [ "$want_tests" = 1 ] || [ "$want_container" = 1 ]; } && [ "$kube" = 1 ] &&
    pkgs="$pkgs $KUBE_PKGS"
if [ "$want_vm" = 1 ]; then
    . vm/deps.sh
    pkgs="$pkgs $VM_APT_RUN $VM_APT_KERNEL_BUILD"
fi

missing=""
[ "$packages" = 1 ] || pkgs=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

# Headers for BCC at /lib/modules/$(uname -r)/build.
rel=$(uname -r)
build=/lib/modules/$rel/build
if [ "$headers" = 0 ]; then
    echo "install.sh: kernel headers: not linked (--no-headers)"
elif [ -d "$build/include" ]; then
    echo "install.sh: kernel headers: $build -> $(readlink -f "$build")"
elif [ -e /sys/kernel/kheaders.tar.xz ] || modprobe -q kheaders 2>/dev/null; then
    echo "install.sh: kernel headers: /sys/kernel/kheaders.tar.xz (CONFIG_IKHEADERS)"
elif DEBIAN_FRONTEND=noninteractive apt-get install -y -q "linux-headers-$rel" >/dev/null 2>&1; then
    echo "install.sh: kernel headers: installed linux-headers-$rel"
else
    hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$hdr" ]; then
        echo "install.sh: no linux-headers-*-amd64 tree under /usr/src (is linux-headers-amd64 installed?)" >&2
        exit 2
    fi
    common=${hdr%-amd64}-common
    mkdir -p "/lib/modules/$rel"
    ln -sfn "$hdr" "$build"
    [ -d "$common" ] && ln -sfn "$common" "/lib/modules/$rel/source"
    echo "install.sh: kernel $rel has no headers package; linked $build -> $hdr"
    echo "install.sh: (the probe takes struct offsets from BTF, so BCC's helper headers suffice)"
fi

# --jitter's supervisor (src/jitter/), when its sources are here.
if [ "$packages" = 1 ] && [ -f src/jitter/clockd.c ]; then
    make -s clockd
fi

# The test programs, when their sources are here (the Dockerfile runs this
# script once with install.sh alone, to cache the package layer).
if [ "$want_tests" = 1 ] && [ "$packages" = 1 ] && [ -f tests/progs/Makefile ]; then
    make -s -C tests/progs
    if [ -f bench/Makefile ]; then make -s -C bench; fi
fi
if { [ "$want_tests" = 1 ] || [ "$want_container" = 1 ]; } && [ "$kube" = 1 ] &&
    [ "$packages" = 1 ] && [ -f tests/kube/package-lock.json ]; then
    # Exactly the versions in the lockfile (kubernetes-models, yaml).
    (cd tests/kube && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ "$want_research" = 1 ]; then
    make -s -C research
fi
echo "install.sh: done"
