#!/bin/bash
# vm/make-initramfs.sh — build the guest initramfs for one cached kernel of the QEMU bed.
#
#   usage: vm/make-initramfs.sh KERNEL_DIR OUT.cpio
# Packs busybox-static, vm/initramfs/init, the path of KERNEL_DIR/lib/modules/<release>
# (bind-mounted in the guest) and, when that tree has modules (the Debian kernel), the
# modules needed to mount the host root (virtio-pci, 9p, overlay) in load order, resolved
# with `modprobe --show-depends`. Kernels with all that built in (override) get no modules.
# Takes well under a second; vm/run.py calls it on every boot, so it is never stale.
set -euo pipefail
die() { echo "make-initramfs: ERROR: $*" >&2; exit 1; }
trap 'echo "make-initramfs: ERROR: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR
[[ $# == 2 ]] || die "usage: $0 KERNEL_DIR OUT.cpio"
KDIR=$1 OUT=$(realpath -m "$2")
VM_DIR=$(cd "$(dirname "$0")" && pwd)
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing: apt-get install busybox-static"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked: apt-get install busybox-static"

ir=$(mktemp -d)
trap 'rm -rf "$ir"' EXIT
mkdir -p "$ir"/{bin,dev,proc,sys,modules}
cp "$BUSYBOX" "$ir/bin/busybox"
install -m 0755 "$VM_DIR/initramfs/init" "$ir/init"
: > "$ir/modules/load-order"

# Module tree (modules and/or build = headers): bind-mounted over /lib/modules/<release>
# in the guest (see init). Modules to load only if the kernel has any (modules.dep).
rel=$(cat "$KDIR/release")
# (realpath: init resolves it from inside the new root, where host symlinks may point elsewhere)
if [[ -d $KDIR/lib/modules/$rel ]]; then realpath "$KDIR/lib/modules/$rel" > "$ir/modules/tree"; fi
if [[ -f $KDIR/lib/modules/$rel/modules.dep ]]; then
    command -v modprobe >/dev/null || die "modprobe missing: apt-get install kmod"
    modprobe -d "$KDIR" -S "$rel" --show-depends -a virtio_pci 9pnet_virtio 9p overlay \
        | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$ir/ko-paths"
    [[ -s $ir/ko-paths ]] || die "modprobe resolved no modules in $KDIR"
    while read -r ko; do
        name=$(basename "$ko")
        case $ko in
            *.ko)     cp "$ko" "$ir/modules/$name" ;;
            *.ko.xz)  name=${name%.xz};  xz -dc "$ko" > "$ir/modules/$name" ;;
            *.ko.zst) name=${name%.zst}; zstd -qdc "$ko" > "$ir/modules/$name" ;;
            *) die "unknown module format: $ko" ;;
        esac
        echo "$name" >> "$ir/modules/load-order"
    done < "$ir/ko-paths"
    rm "$ir/ko-paths"
fi

# busybox cpio reports "N blocks" on stderr: keep it only for an error message.
(cd "$ir" && find . | "$BUSYBOX" cpio -o -H newc -R 0:0 > "$OUT.tmp" 2> "$OUT.err") \
    || die "cpio failed: $(cat "$OUT.err")"
rm -f "$OUT.err"
mv "$OUT.tmp" "$OUT"
