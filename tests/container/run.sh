#!/usr/bin/env bash
# tests/container/run.sh - the container suite: build the image from the
# Dockerfile with podman and run the watchdog inside it on the host kernel.
#
#   1. podman, runc, debootstrap from apt (./install.sh --container);
#   2. /etc/containers/containers.conf: [containers] default_ulimits = [];
#   3. the debian:12 base: no registry is reachable, so debootstrap bookworm
#      from this machine's apt mirror, cached as a tarball under
#      /var/cache/ethos-watchdog/container/ (rebuilt when the mirror or this
#      recipe changes), imported as debian:12 when podman has none;
#   4. podman build (runtime runc) -> ethos-watchdog:test;
#   5. inside, privileged, host PID namespace, host kernel interfaces mounted:
#      (a) --probe-features exits 0 and reports the tracepoint backend available;
#      (b) --action monitor --max-calls 50 --json -- aggressive_reader -n 200
#          reports the reader's 200 calls: 50 allowed, 150 over the limit;
#   6. on the host, both front ends (build/ethoswd: make ethoswd first) with
#      --key cgroup over two containers of the image, one limited, one not,
#      each budget named by its cgroup path, runtime and container ID
#      (tests/container/test_names.py).
#   7. tests/container/kube_play.sh: deploy/kubernetes validated offline, and
#      the DaemonSet's pod run by `podman kube play` (its own image target,
#      ethoswd alone) counting a reader on the host, /healthz answering.
#
# Prints timings; exits 0, or non-zero after one "container: FAIL: ..." line.
# Logs go to $WD_TEST_OUT/container (default /tmp/ethos-watchdog-tests).
# Run as root from anywhere: tests/container/run.sh   (test.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${WD_TEST_OUT:-/tmp/ethos-watchdog-tests}/container
CACHE=/var/cache/ethos-watchdog/container
IMAGE=ethos-watchdog:test
BASE=debian:12
SUITE=bookworm
RUNC=/usr/sbin/runc
mkdir -p "$OUT" "$CACHE"

fail() { echo "container: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
[ "$(id -u)" -eq 0 ] || fail "must run as root"

t=$(now)
./install.sh --container >"$OUT/install.log" 2>&1 || fail "./install.sh --container (see $OUT/install.log)"
[ -x "$RUNC" ] || fail "$RUNC is missing after install"
echo "container: packages ready: $(since "$t")"

# crun, podman's default where installed, fails on this machine kind's hybrid
# cgroups, so every podman call below names runc.  podman + runc here ran
# containers only once [containers] default_ulimits = [] was set (measured on
# the development machines; with the list empty a container inherits the
# launching process's rlimits).  Add only that key, keeping whatever else the
# file holds; never override a value someone set.
CONF=/etc/containers/containers.conf
if ! grep -qs '^[[:space:]]*default_ulimits[[:space:]]*=' "$CONF"; then
    mkdir -p "$(dirname "$CONF")"
    touch "$CONF"
    if grep -q '^[[:space:]]*\[containers\]' "$CONF"; then
        sed -i '0,/^[[:space:]]*\[containers\]/s//&\ndefault_ulimits = []  # ethos-watchdog: podman + runc need this here/' "$CONF"
    else
        printf '\n[containers]\ndefault_ulimits = []  # ethos-watchdog: podman + runc need this here\n' >>"$CONF"
    fi
    echo "container: set default_ulimits = [] in $CONF"
fi

# The apt sources this machine uses for bookworm (deb822 .sources files and
# one-line .list files): the first plain "bookworm" URI is debootstrap's
# mirror; all of them become the base's sources.list.
list_sources() {  # one-line format: deb [options] URI SUITE COMPONENTS...
    awk '$1 == "deb" { sub(/\[[^]]*\]/, ""); print $2, $3 }' "$@"
}
deb822_sources() {  # stanzas of Types:, URIs:, Suites: (the first URI of each)
    awk 'function flush() { if (deb && uri != "") { n = split(suites, s, " "); for (i = 1; i <= n; i++) print uri, s[i] } deb = 0; uri = ""; suites = "" }
         /^[[:space:]]*$/ { flush(); next }
         /^Types:/ { deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
         /^URIs:/ { uri = $2 }
         /^Suites:/ { $1 = ""; suites = $0 }
         END { flush() }' "$@"
}
sources=$(
    { for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
          if [ -f "$f" ]; then list_sources "$f"; fi
      done
      for f in /etc/apt/sources.list.d/*.sources; do
          if [ -f "$f" ]; then deb822_sources "$f"; fi
      done
    } | awk -v s="$SUITE" '$2 == s || index($2, s "-") == 1' | sort -u)
mirror=$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$sources")
[ -n "$mirror" ] || fail "no '$SUITE' source in /etc/apt/sources.list{,.d}: cannot debootstrap"
base_list=$(awk '{ print "deb", $1, $2, "main" }' <<<"$sources")

# The cache key: the recipe (this block) and the sources it uses.
RECIPE="debootstrap --variant=minbase $SUITE; sources: $base_list"
key=$(printf '%s\n' "$RECIPE" | sha256sum | cut -c1-12)
tarball=$CACHE/debian12-$SUITE-$(dpkg --print-architecture)-$key.tar

t=$(now)
if [ ! -s "$tarball" ]; then
    echo "container: creating the $BASE base: debootstrap $SUITE from $mirror"
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$OUT/debootstrap.log" 2>&1 \
        || fail "debootstrap $SUITE $mirror (see $OUT/debootstrap.log)"
    printf '%s\n' "$base_list" >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"; trap - EXIT
    for old in "$CACHE"/debian12-*.tar; do  # tarballs of older keys
        if [ "$old" != "$tarball" ]; then rm -f "$old"; fi
    done
    echo "container: debootstrap + tarball: $(since "$t")"
fi
# Import when podman has no debian:12, or has one this script imported from
# another key (a debian:12 from a registry is used as it is).
have=$(podman image inspect --format '{{index .Config.Labels "org.ethos-watchdog.base"}}' "$BASE" 2>/dev/null || echo none)
if [ "$have" = none ] || { [ -n "$have" ] && [ "$have" != "<no value>" ] && [ "$have" != "$key" ]; }; then
    podman import --change "LABEL org.ethos-watchdog.base=$key" --change 'CMD ["/bin/bash"]' \
        "$tarball" "$BASE" >"$OUT/import.log" 2>&1 || fail "podman import $tarball (see $OUT/import.log)"
fi
echo "container: base $BASE ready (key $key): $(since "$t")"

t=$(now)
podman --runtime "$RUNC" build --network host -t "$IMAGE" -f Dockerfile . >"$OUT/build.log" 2>&1 \
    || { tail -n 5 "$OUT/build.log" >&2; fail "podman build (see $OUT/build.log)"; }
echo "container: podman build: $(since "$t")"

# As the Dockerfile says: privileged, host PID namespace, host kernel interfaces.
RUN=(podman --runtime "$RUNC" run --rm --privileged --pid=host --network none
     -v /sys/kernel:/sys/kernel -v /sys/fs/bpf:/sys/fs/bpf
     -v /lib/modules:/lib/modules:ro -v /usr/src:/usr/src:ro)

t=$(now)
"${RUN[@]}" "$IMAGE" --probe-features >"$OUT/probe-features.log" 2>&1 \
    || fail "--probe-features exited $? (see $OUT/probe-features.log)"
sed 's/^/  | /' "$OUT/probe-features.log"
grep -Eq '^tracepoint +[^ ]+ +available' "$OUT/probe-features.log" \
    || fail "--probe-features does not report the tracepoint backend available (see $OUT/probe-features.log)"
echo "container: --probe-features: $(since "$t")"

t=$(now)
"${RUN[@]}" "$IMAGE" --action monitor --max-calls 50 --json \
    -- tests/progs/bin/aggressive_reader -n 200 -q >"$OUT/monitor.json" 2>"$OUT/monitor.err" \
    || fail "monitored run exited $? (see $OUT/monitor.json, monitor.err)"
summary=$(grep '"event": "summary"' "$OUT/monitor.json" | tail -n 1)
[ -n "$summary" ] || fail "monitored run printed no summary (see $OUT/monitor.json, monitor.err)"
counts=$(/usr/bin/python3 -c 'import json, sys; s = json.loads(sys.argv[1]); print(s["total"], s["allowed"], s["limited"])' "$summary")
echo "  | summary: total allowed limited = $counts"
[ "$counts" = "200 50 150" ] || fail "monitored aggressive_reader -n 200: expected total 200, allowed 50, limited 150, got $counts"
echo "container: monitored aggressive_reader: $(since "$t")"

t=$(now)
/usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/container/test_names.py \
    >"$OUT/names.log" 2>&1 || { tail -n 20 "$OUT/names.log" >&2; fail "two named containers (see $OUT/names.log)"; }
grep -E '^ +budget |cgroups|passed' "$OUT/names.log" | sed 's/^/  | /'
echo "container: two containers by name: $(since "$t")"

t=$(now)
tests/container/kube_play.sh || fail "the Kubernetes pod under podman kube play (see $OUT/kube)"
echo "container: kube play: $(since "$t")"
echo "container: PASS"
