#!/bin/bash
# vm/build-kernel.sh — build the "override" kernel of the QEMU bed (kprobes + bpf_override_return).
#
# From Debian's linux-source-6.1 package: `make tinyconfig`, merge vm/kernel/override.config
# (scripts/kconfig/merge_config.sh), `make olddefconfig`, check that every CONFIG_X=y of the
# fragment survived, `make -j$(nproc) vmlinux`. Cached in
#   $VM_CACHE/kernels/override-<key>/      (default VM_CACHE=/var/cache/ethos-watchdog)
# (vmlinux, .config, release, build.log, build-time), key = short sha256 of (fragment +
# linux-source-6.1 package version + this script): with nothing changed a run only prints
# the directory. The kernel's own headers (kernel/kheaders_data.tar.xz) are unpacked to
# lib/modules/<release>/build there; the guest bind-mounts that tree, so BCC finds headers as
# for a packaged kernel (BCC 0.26's /sys/kernel/kheaders.tar.xz path re-extracts on every
# BPF() after the first and runs `rm -rf` on garbage arguments). The source tree stays in
# $VM_CACHE/src/linux-source-6.1 for incremental rebuilds. Prints the directory on stdout.
#   usage: vm/build-kernel.sh [--path]   (--path: print the cached dir or fail, no build)
set -euo pipefail
VM_DIR=$(cd "$(dirname "$0")" && pwd)
. "$VM_DIR/deps.sh"
CACHE=${VM_CACHE:-/var/cache/ethos-watchdog}
FRAGMENT=$VM_DIR/kernel/override.config
TARBALL=/usr/src/linux-source-6.1.tar.xz
SRC=$CACHE/src/linux-source-6.1
die() { echo "build-kernel: ERROR: $*" >&2; exit 1; }
trap 'echo "build-kernel: ERROR: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

# The cache directory for the current fragment, source package and script (fails if no source).
cache_dir() {
    local v
    v=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) && [[ -n $v ]] || return 1
    echo "$CACHE/kernels/override-$({ cat "$FRAGMENT"; echo "linux-source-6.1 $v"; \
                                       cat "$VM_DIR/build-kernel.sh"; } | sha256sum | cut -c1-12)"
}

if [[ ${1:-} == --path ]]; then
    OUT=$(cache_dir) && [[ -f $OUT/vmlinux ]] \
        || die "override kernel not built for this fragment/source/script: run 'make vm-kernels' (or $0)"
    echo "$OUT"; exit 0
fi
[[ $(id -u) == 0 ]] || { echo "build-kernel: ERROR: must run as root (apt-get, $CACHE): run it in a root shell, or as: sudo $0" >&2; exit 2; }
vm_apt_ensure $VM_APT_KERNEL_BUILD
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
OUT=$(cache_dir)
key=${OUT##*/override-}
mkdir -p "$CACHE/kernels" "$CACHE/src"
exec 9>"$CACHE/kernels/.lock"; flock 9            # one fetch/build at a time
if [[ -f $OUT/vmlinux ]]; then echo "$OUT"; exit 0; fi

t_start=$(date +%s)
# (Re-)extract the source when the package version differs from the extracted one.
if [[ $(cat "$SRC/.ewd-source-version" 2>/dev/null) != "$src_version" ]]; then
    echo "build-kernel: extracting $TARBALL ($src_version) into $CACHE/src" >&2
    rm -rf "$SRC"
    tar -xf "$TARBALL" -C "$CACHE/src"
    echo "$src_version" > "$SRC/.ewd-source-version"
fi

log=$CACHE/kernels/.override-$key.build.log
cd "$SRC"
{ make tinyconfig && scripts/kconfig/merge_config.sh -m .config "$FRAGMENT" && make olddefconfig; } \
    > "$log" 2>&1 || die "configuring failed, see $log"
missing=$(grep -E '^CONFIG_[A-Za-z0-9_]+=y$' "$FRAGMENT" | while read -r line; do
              grep -qxF "$line" .config || echo "${line%=y}"; done)
[[ -z $missing ]] || die "not =y in the final .config (unmet dependencies?):" $missing

echo "build-kernel: make -j$(nproc) vmlinux in $SRC (log: $log)" >&2
t0=$(date +%s)
make -j"$(nproc)" vmlinux >> "$log" 2>&1 || { tail -n 30 "$log" >&2; die "make vmlinux failed, see $log"; }
secs=$(( $(date +%s) - t0 ))

tmp=$(mktemp -d "$CACHE/kernels/.override-$key.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
cp vmlinux .config "$tmp/"
make -s kernelrelease > "$tmp/release"
mkdir -p "$tmp/lib/modules/$(cat "$tmp/release")/build"
tar -xJf kernel/kheaders_data.tar.xz -C "$tmp/lib/modules/$(cat "$tmp/release")/build"
mv "$log" "$tmp/build.log"
total=$(( $(date +%s) - t_start ))
echo "make -j$(nproc) vmlinux: ${secs} s wall; with extracting/configuring: ${total} s; $(date -Is)" \
    > "$tmp/build-time"
mv "$tmp" "$OUT"
echo "build-kernel: built $(cat "$OUT/release"): make vmlinux $((secs / 60)) min $((secs % 60)) s wall," \
     "$((total / 60)) min $((total % 60)) s in all ($OUT)" >&2
echo "$OUT"
