#!/usr/bin/env bash
# tests/container/kube_play.sh - the Kubernetes DaemonSet's pod, run by
# `podman kube play` on this host (no cluster is reachable here).
#
#   1. the manifests pass the offline schema check (tests/kube/validate.mjs);
#   2. the image the DaemonSet names is built from the Dockerfile
#      (--target ethoswd: ethoswd and its libraries only, on the debian:12
#      base the container suite, run.sh, prepares);
#   3. tests/kube/pod.mjs makes a Pod from the shipped DaemonSet's pod
#      template (podman 4.3 plays Pods, not DaemonSets) and its ConfigMap:
#      the same image, capabilities (BPF, PERFMON, KILL, SYS_RESOURCE, less
#      any this host's own bounding set lacks; not privileged: checked with
#      podman inspect), read-only root, seccomp (Unconfined, written as the
#      annotation podman 4.3 reads), host mounts and policy, with flags
#      appended that narrow the policy to the test's own reader:
#      --action monitor --comm kubeplay_rdr; --host-network puts the pod in
#      the host's network namespace (no pod network needed; the test talks
#      to 127.0.0.1 only), and --metrics-listen moves to a free loopback port;
#   4. a reader started on the host, outside the pod, does 200 preads of
#      /proc/version (a sysinfo file: the shipped fingerprint policy counts
#      it, 16 per 500 ms per cgroup); the pod's ethoswd must report that
#      host process by its host PID: 16 allowed, 184 over the limit;
#   5. /healthz answers "ok" while it runs.
# Host PIDs: podman 4.3 ignores hostPID, so the pod has a PID namespace of
# its own.  The probe reads PIDs in the kernel, so step 4 shows the watchdog
# seeing a host process by its host PID from inside it; what needs hostPID
# itself (throttle's SIGCONT, -p, leaving itself alone) is not exercised
# here, which is why the test's action is monitor and its target a --comm.
#
# Usage: tests/container/kube_play.sh [MANIFEST_DIR]  (default deploy/kubernetes)
# Run by tests/container/run.sh, after it built the debian:12 base;
# logs in $WD_TEST_OUT/container/kube.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-deploy/kubernetes}
OUT=${WD_TEST_OUT:-/tmp/ethos-watchdog-tests}/container/kube
RUNC=/usr/sbin/runc
COMM=kubeplay_rdr
mkdir -p "$OUT"
fail() { echo "kube: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "must run as root"
[ -d tests/kube/node_modules ] || fail "tests/kube/node_modules is missing: run ./install.sh --container"

node tests/kube/validate.mjs "$DIR"/*.yaml >"$OUT/validate.log" 2>&1 ||
    { cat "$OUT/validate.log" >&2; fail "the manifests do not validate"; }
sed 's/^/  | /' "$OUT/validate.log"

# The Pod's name and image, from the Pod pod.mjs makes.
read -r pod image < <(node tests/kube/pod.mjs "$DIR" --json | /usr/bin/python3 -c '
import json, sys; p = json.load(sys.stdin)[1]
print(p["metadata"]["name"], p["spec"]["containers"][0]["image"])')
[ -n "$image" ] || fail "no image in $DIR/daemonset.yaml"
podman --runtime "$RUNC" build --network host --target ethoswd -t "$image" -f Dockerfile . \
    >"$OUT/build.log" 2>&1 || { tail -n 5 "$OUT/build.log" >&2; fail "podman build --target ethoswd (see $OUT/build.log)"; }
echo "kube: image $image: $(podman image inspect --format '{{.Size}}' "$image") bytes"

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node tests/kube/pod.mjs "$DIR" --host-network --port "metrics=$port" --drop-arg --metrics-listen \
    --arg --action --arg monitor --arg --comm --arg "$COMM" \
    --arg --metrics-listen --arg "127.0.0.1:$port" >"$OUT/pod.yaml"

reader=""
cleanup() {
    podman --runtime "$RUNC" kube down "$OUT/pod.yaml" >/dev/null 2>&1 || true
    if [ -n "$reader" ]; then kill "$reader" 2>/dev/null || true; fi
}
trap cleanup EXIT
podman --runtime "$RUNC" kube down "$OUT/pod.yaml" >/dev/null 2>&1 || true

# The reader waits (-w) for SIGUSR1 until the watchdog is attached.
tests/progs/bin/aggressive_reader -n 200 -s pread -f /proc/version -N "$COMM" -w -q \
    >"$OUT/reader.out" 2>"$OUT/reader.err" &
reader=$! reader_pid=$!
for _ in $(seq 1 100); do grep -qx ready "$OUT/reader.out" && break; sleep 0.1; done
grep -qx ready "$OUT/reader.out" || fail "the reader did not get ready (see $OUT/reader.err)"

podman --runtime "$RUNC" kube play "$OUT/pod.yaml" >"$OUT/play.log" 2>&1 ||
    { cat "$OUT/play.log" >&2; fail "podman kube play (see $OUT/play.log)"; }
box=$(podman pod inspect --format '{{range .Containers}}{{.Name}} {{end}}' "$pod" |
      tr ' ' '\n' | grep -v -- '-infra$' | grep . | head -n 1)
started=""
for _ in $(seq 1 120); do
    if podman logs "$box" 2>/dev/null | grep -q '"event": "start"'; then started=1; break; fi
    # Exited, or exited and restarted (restartPolicy Always): it failed.
    [ "$(podman inspect --format '{{.State.Running}} {{.RestartCount}}' "$box" 2>/dev/null)" = "true 0" ] || break
    sleep 0.5
done
# The container runs as the DaemonSet says: not privileged, read-only root,
# and the capabilities it adds, less any this host's own bounding set lacks
# (podman cannot grant those; on these machines CAP_SYS_RESOURCE).
want=$(node tests/kube/pod.mjs "$DIR" --json | /usr/bin/python3 -c '
import json, sys
bits = {"KILL": 5, "SYS_ADMIN": 21, "SYS_RESOURCE": 24, "PERFMON": 38, "BPF": 39}
caps = json.load(sys.stdin)[1]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"]
bnd = int([ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("CapBnd:")][0], 16)
for c in caps:
    if not bnd >> bits[c] & 1:
        print("kube: CAP_%s: not in this host'"'"'s bounding set, so not in the pod" % c, file=sys.stderr)
print("false true [%s]" % " ".join(sorted("CAP_" + c for c in caps if bnd >> bits[c] & 1)))')
shape=$(podman inspect --format '{{.HostConfig.Privileged}} {{.HostConfig.ReadonlyRootfs}} {{.EffectiveCaps}}' "$box")
echo "kube: privileged, read-only root, capabilities: $shape"
[ "$shape" = "$want" ] || fail "the pod's container is not what the DaemonSet asks for: $shape, not $want"
# For the DaemonSet's memory request and limit (the kernel charges the BPF
# maps to the pod's memory cgroup).  Informational: not asserted.
echo "kube: the pod's memory use: $(podman stats --no-stream --format '{{.MemUsage}}' "$box" 2>&1 || true)"
kill -USR1 "$reader"
wait "$reader" || fail "the reader failed (see $OUT/reader.err)"
reader=""
sleep 1
health=$(/usr/bin/python3 -c 'import sys, urllib.request
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s/healthz" % sys.argv[1], timeout=5)
    print(r.status, r.read().decode().strip())
except Exception as e:
    print("none", e)' "$port")
podman pod stop -t 15 "$pod" >/dev/null 2>&1 || true
podman logs "$box" >"$OUT/ethoswd.log" 2>&1 || true
[ -n "$started" ] || fail "ethoswd did not start in the pod (see $OUT/ethoswd.log, $OUT/play.log)"

/usr/bin/python3 - "$OUT/ethoswd.log" "$COMM" "$reader_pid" <<'EOF' || fail "the pod's counts (see $OUT/ethoswd.log)"
import json, sys
recs = []
for line in open(sys.argv[1]):
    try:
        recs.append(json.loads(line))
    except ValueError:
        pass
start = [r for r in recs if r.get("event") == "start"][0]
summ = [r for r in recs if r.get("event") == "summary"][-1]
pol = start["policy"]
print("  | start: backend %s, action %s, policy %s %d/%d ms, key %s, count %s" % (
    start["backend"], start["action"], pol["profile"], pol["max_calls"], pol["window_ms"],
    pol["key"], pol["count"]))
rows = [p for p in summ["processes"] if p["comm"] == sys.argv[2]]
print("  | the host reader in the summary: %s" % rows)
assert start["action"] == "monitor" and pol["profile"] == "fingerprint", start
assert len(rows) == 1 and (rows[0]["allowed"], rows[0]["limited"]) == (16, 184), rows
# Seen from the pod's own PID namespace, by its host PID.
assert rows[0]["pid"] == int(sys.argv[3]), (rows, sys.argv[3])
EOF
echo "kube: /healthz: $health"
[ "$health" = "200 ok" ] || fail "/healthz on 127.0.0.1:$port answered: $health"
echo "kube: PASS"
