#!/usr/bin/env bash
# test.sh - install what the tests need, then run every suite and summarise:
#   lint (flake8) -> unit (no root) -> host (this kernel; both front ends,
#   watchdog.py and ethoswd) -> host again for ethoswd under ASan+UBSan -> container
#   (podman image from the Dockerfile, on this kernel) -> VM debian (BPF-LSM deny)
#   -> VM override (kprobe + bpf_override_return deny).
# Every suite runs even if an earlier one failed; the exit status is 0 only
# if all passed.  Logs and JUnit files go to $WD_TEST_OUT (default
# /tmp/ethos-watchdog-tests).  Run as root: ./test.sh in a root shell, or
# sudo ./test.sh from another account.  Nothing in here calls sudo.
set -uo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: must run as root: run it in a root shell, or as: sudo $0" >&2
    exit 2
fi
PY=/usr/bin/python3
OUT=${WD_TEST_OUT:-/tmp/ethos-watchdog-tests}
rm -rf "$OUT" && mkdir -p "$OUT"
stamp() { date +%s; }
t_all=$(stamp)

echo "=== install (./install.sh --tests --vm --container) ==="
./install.sh --tests --vm --container || { echo "test.sh: install failed" >&2; exit 2; }
make -s progs ethoswd ethoswd-asan build/test_minbtf || { echo "test.sh: build failed" >&2; exit 2; }

# The backend auto picks on this kernel (for the summary table): the host and
# container suites run on it, and on tracepoint where a test names it.
auto=$($PY watchdog.py --probe-features --json 2>/dev/null |
    $PY -c 'import json, sys; print(json.load(sys.stdin)["auto"]["backend"])' 2>/dev/null) || auto="?"
host_backends=tracepoint
[ "$auto" = tracepoint ] || host_backends="tracepoint,$auto"

echo "=== lint (flake8: .flake8; clang-format: .clang-format) ==="
make -s lint && echo "lint: clean"
lint_rc=$?

echo "=== unit suite ==="
$PY -m pytest -q tests/unit --junitxml="$OUT/unit.xml"
echo "=== host suite ($(uname -r)) ==="
t=$(stamp)
$PY -m pytest -q tests/host --junitxml="$OUT/host.xml"
echo "host suite: $(( $(stamp) - t )) s"

# ethoswd once more, built with AddressSanitizer and UBSan (leaks, bad
# memory, undefined behaviour: any report makes the run fail).
echo "=== host suite: ethoswd under ASan+UBSan ==="
t=$(stamp)
WD_ETHOSWD=$PWD/build/ethoswd-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    $PY -m pytest -q tests/host -k ethoswd --junitxml="$OUT/host-asan.xml"
echo "host suite under ASan+UBSan: $(( $(stamp) - t )) s"

echo "=== container suite (podman) ==="
t=$(stamp)
WD_TEST_OUT=$OUT tests/container/run.sh
container_rc=$?
echo "container suite: exit $container_rc, $(( $(stamp) - t )) s"

echo "=== VM kernels ==="
t=$(stamp)
vm/build-kernel.sh 2>&1 | tee "$OUT/build-kernel.log" | tail -n 5
vm/fetch-debian-kernel.sh 2>&1 | tee "$OUT/fetch-debian.log" | tail -n 3
echo "VM kernels ready: $(( $(stamp) - t )) s"

vm_specs=()
for k in debian override; do
    echo "=== VM suite: $k kernel ==="
    t=$(stamp)
    $PY vm/run.py --kernel "$k" --timeout 1800 -- $PY -m pytest -q tests/vm \
        2>&1 | tee "$OUT/vm-$k.log" | grep -v '^WDRESULT' | grep -v '^$'
    rc=${PIPESTATUS[0]}
    release=$(sed -n 's/^vm: [a-z]* kernel \([^:]*\):.*/\1/p' "$OUT/vm-$k.log" | tail -n 1)
    echo "VM suite $k: exit $rc, $(( $(stamp) - t )) s"
    vm_specs+=(--vm "$k|${release:-?}|$OUT/vm-$k.log|$rc")
done

# Soak (tests/soak): a 60 s CI version on the host (throttle) and in the
# debian guest (deny); `make soak` runs the full 600 s / 120 s.
echo "=== soak suite: host and VM debian, ${SOAK_CI_S:=60} s each ==="
SOAK_S=$SOAK_CI_S $PY -m pytest -q -s tests/soak --junitxml="$OUT/soak-host.xml" \
    2>&1 | tee "$OUT/soak-host.log" | tail -n 20
$PY vm/run.py --kernel debian --timeout 1800 --env SOAK_S=$SOAK_CI_S -- \
    $PY -m pytest -q -s tests/soak 2>&1 | tee "$OUT/vm-soak.log" | grep -v '^WDRESULT' | grep -v '^$' | tail -n 20
rc=${PIPESTATUS[0]}
release=$(sed -n 's/^vm: [a-z]* kernel \([^:]*\):.*/\1/p' "$OUT/vm-soak.log" | tail -n 1)
vm_specs+=(--vm "soak-debian|${release:-?}|$OUT/vm-soak.log|$rc")

$PY tests/summarize.py \
    --status "lint|(none: flake8, clang-format)|-|$lint_rc" \
    --junit "unit|(none: pure logic)|-|$OUT/unit.xml" \
    --junit "host|$(uname -r)|$host_backends|$OUT/host.xml" \
    --junit "host-asan|$(uname -r)|$host_backends (ethoswd, ASan+UBSan)|$OUT/host-asan.xml" \
    --status "container|$(uname -r)|$auto|$container_rc" \
    --junit "soak|$(uname -r)|tracepoint|$OUT/soak-host.xml" \
    "${vm_specs[@]}"
rc=$?
echo "test.sh: $(( $(stamp) - t_all )) s in all; logs in $OUT"
exit $rc
