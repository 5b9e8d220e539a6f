#!/bin/bash
# vm/fetch-debian-kernel.sh — fetch (no build) the Debian 12 stock kernel for the QEMU bed.
#
# Downloads linux-image-<ABI>-amd64 at the exact version of the installed linux-headers-amd64
# (so BCC in the guest compiles against matching headers), unpacks it into
#   $VM_CACHE/kernels/debian-<version>/   (default VM_CACHE=/var/cache/ethos-watchdog)
# runs depmod there, adds the build/source links to the headers, extracts the uncompressed
# vmlinux from vmlinuz (PVH boot: faster than bzImage under TCG) and prints the directory.
# Cached: a second run only prints the path.
#   usage: vm/fetch-debian-kernel.sh [--path]   (--path: print the cached dir or fail, no fetch)
set -euo pipefail
VM_DIR=$(cd "$(dirname "$0")" && pwd)
. "$VM_DIR/deps.sh"
CACHE=${VM_CACHE:-/var/cache/ethos-watchdog}/kernels
die() { echo "fetch-debian-kernel: ERROR: $*" >&2; exit 1; }
trap 'echo "fetch-debian-kernel: ERROR: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

# The ABI and version come from the headers meta-package: "linux-headers-6.1.0-56-amd64 (= 6.1.192-2)".
dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null) \
    || die "linux-headers-amd64 is not installed (apt-get install linux-headers-amd64)"
[[ $dep =~ linux-headers-([0-9][^ ]*-amd64)\ \(=\ ([^\)]+)\) ]] \
    || die "cannot parse the Depends of linux-headers-amd64: '$dep'"
REL=${BASH_REMATCH[1]} VER=${BASH_REMATCH[2]}
OUT=$CACHE/debian-$VER

if [[ ${1:-} == --path ]]; then
    [[ -f $OUT/vmlinux ]] || die "Debian kernel $REL ($VER) not fetched: run 'make vm-kernels' (or $0)"
    echo "$OUT"; exit 0
fi
[[ $(id -u) == 0 ]] || { echo "fetch-debian-kernel: ERROR: must run as root (apt-get download, depmod): run it in a root shell, or as: sudo $0" >&2; exit 2; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"; flock 9            # one fetch/build at a time
if [[ -f $OUT/vmlinux ]]; then echo "$OUT"; exit 0; fi

vm_apt_ensure kmod xz-utils "linux-headers-$REL"
t0=$(date +%s%N)
tmp=$(mktemp -d "$CACHE/.debian-$VER.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chown _apt "$tmp" 2>/dev/null || true     # lets apt download without its "unsandboxed" warning
(cd "$tmp" && apt-get download "linux-image-$REL=$VER") \
    || die "apt-get download linux-image-$REL=$VER failed (apt-get update? is $VER still in the archive?)"
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/root"
rm -f "$tmp"/linux-image-*.deb
K=$tmp/root
[[ -d $K/lib/modules/$REL ]] || die "no lib/modules/$REL in the package"
depmod -b "$K" "$REL"
ln -s "/usr/src/linux-headers-$REL" "$K/lib/modules/$REL/build"
ln -s "/usr/src/linux-headers-${REL%-amd64}-common" "$K/lib/modules/$REL/source"

# vmlinuz is a bzImage whose payload is one xz stream holding the ELF vmlinux.
z=$K/boot/vmlinuz-$REL
m=$(LC_ALL=C grep -m1 -obUaP '\xfd7zXZ' "$z") \
    || die "no xz stream in $z (is the kernel no longer xz-compressed?)"
off=${m%%:*}     # byte offset of the first match
xz -dc --single-stream < <(tail -c +$((off + 1)) "$z") > "$K/vmlinux"
[[ $(head -c 4 "$K/vmlinux" | od -An -c | tr -d ' ') == 177ELF ]] || die "extracted vmlinux is not an ELF file"
grep -q '^CONFIG_PVH=y' "$K/boot/config-$REL" || die "CONFIG_PVH is not set: QEMU cannot boot vmlinux directly"
echo "$REL" > "$K/release"

mv "$K" "$OUT"
ds=$(( ($(date +%s%N) - t0) / 100000000 ))
echo "fetch-debian-kernel: $REL ($VER) fetched in $((ds / 10)).$((ds % 10)) s" >&2
echo "$OUT"
