# vm/deps.sh — the Debian 12 packages the QEMU verification bed needs, in one place.
# shellcheck shell=sh disable=SC2034,SC2086  # lists used by the sourcing scripts, split on purpose
# Sourced (not executed) by vm/build-kernel.sh, vm/fetch-debian-kernel.sh and the repo's
# install script:   . vm/deps.sh && vm_apt_ensure $VM_APT_RUN $VM_APT_KERNEL_BUILD

# Booting guests and building their initramfs (vm/run.py, vm/make-initramfs.sh).
# bpftool and python3-bpfcc/pytest run *inside* the guest, from the host root shared over 9p.
VM_APT_RUN="qemu-system-x86 busybox-static kmod cpio xz-utils python3 python3-bpfcc python3-pytest bpftool linux-headers-amd64"

# Building the "override" kernel (vm/build-kernel.sh). dwarves = pahole, which turns the
# DWARF debug info into the kernel's BTF (CONFIG_DEBUG_INFO_BTF; 6.1 wants pahole >= 1.16).
VM_APT_KERNEL_BUILD="linux-source-6.1 build-essential flex bison bc libelf-dev libssl-dev dwarves cpio xz-utils"

# vm_apt_ensure PKG... — install whichever of PKG... is not installed yet (needs root).
vm_apt_ensure() {
    _vm_missing=""
    for _vm_p in "$@"; do
        dpkg-query -W -f='${Status}' "$_vm_p" 2>/dev/null | grep -q 'install ok installed' \
            || _vm_missing="$_vm_missing $_vm_p"
    done
    [ -z "$_vm_missing" ] && return 0
    echo "vm: installing missing packages:$_vm_missing" >&2
    apt-get install -y --no-install-recommends $_vm_missing || {
        echo "vm: ERROR: apt-get install failed for:$_vm_missing (try apt-get update first)" >&2
        return 1
    }
}
