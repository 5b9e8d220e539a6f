"""deploy/kubernetes: every manifest passes the offline check against the
Kubernetes API schema (tests/kube/validate.mjs, kubernetes-models pinned in
tests/kube/package-lock.json, installed by ./install.sh --tests), a broken
copy of each kind of mistake fails it, the DaemonSet has the shape
docs/watchdog_guide.md's "Kubernetes" section describes, and the ConfigMap's
policy is a --config file both front ends accept.  The pod itself runs in
the container suite (tests/container/kube_play.sh)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import parity

REPO = Path(__file__).resolve().parent.parent.parent
KUBE = REPO / "deploy" / "kubernetes"
CHECKS = REPO / "tests" / "kube"
MANIFESTS = sorted(KUBE.glob("*.yaml"))


def _node(script, *args):
    node = shutil.which("node")
    assert node, "node is not installed: run ./install.sh --tests"
    assert (CHECKS / "node_modules" / "kubernetes-models").is_dir(), \
        "tests/kube/node_modules is missing: run ./install.sh --tests (npm ci)"
    return subprocess.run([node, str(CHECKS / script)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=120)


def test_every_manifest_validates():
    assert [m.name for m in MANIFESTS] == [
        "configmap.yaml", "daemonset.yaml", "namespace.yaml", "serviceaccount.yaml"]
    r = _node("validate.mjs", *MANIFESTS)
    assert (r.returncode, r.stderr) == (0, ""), r.stdout + r.stderr
    assert sorted(line.split(" (")[0] for line in r.stdout.splitlines()) == [
        "ok ConfigMap ethoswd-policy", "ok DaemonSet ethoswd",
        "ok Namespace ethos-watchdog", "ok ServiceAccount ethoswd"]


# (file, text replaced, replacement, what the error line must name)
BROKEN = [
    ("daemonset.yaml", "hostPID: true", "hostPid: true",
     "/spec/template/spec/hostPid: no such field"),
    ("daemonset.yaml", "hostPID: true", "hostPID: \"yes\"",
     "data/spec/template/spec/hostPID must be boolean"),
    ("daemonset.yaml", "readOnlyRootFilesystem", "readOnlyRootFileSystem",
     "securityContext/readOnlyRootFileSystem: no such field"),
    ("daemonset.yaml", "initialDelaySeconds: 10", "initialDelaySeconds: 10s",
     "livenessProbe/initialDelaySeconds must be integer"),
    ("daemonset.yaml", "memory: 256Mi", "memory: lots",
     "limits/memory must match format \"quantity\""),
    ("daemonset.yaml", "protocol: TCP", "protocol: tcp",
     "ports/0/protocol must be equal to one of the allowed values"),
    ("daemonset.yaml", "      containers:\n        - name: ethoswd\n",
     "      containers:\n        - nam: ethoswd\n",
     "containers/0 must have required property name"),
    ("daemonset.yaml", "apiVersion: apps/v1", "apiVersion: apps/v1beta9",
     "unknown apiVersion/kind apps/v1beta9/DaemonSet"),
    ("configmap.yaml", "kind: ConfigMap", "kind: Configmap",
     "unknown apiVersion/kind v1/Configmap"),
    ("serviceaccount.yaml", "\nautomountServiceAccountToken: false",
     "\nautomountServiceAccountToken: [false]", "automountServiceAccountToken must be boolean"),
]


@pytest.mark.parametrize("name,old,new,error", BROKEN, ids=[b[3][:40] for b in BROKEN])
def test_a_broken_manifest_fails(tmp_path, name, old, new, error):
    text = (KUBE / name).read_text()
    assert text.count(old) == 1, old
    bad = tmp_path / name
    bad.write_text(text.replace(old, new))
    r = _node("validate.mjs", bad)
    assert r.returncode == 1 and error in r.stderr, r.stdout + r.stderr
    # The good manifests beside it still pass: the failure is the broken one.
    assert "ok " not in r.stdout


def _pod(*args):
    r = _node("pod.mjs", KUBE, "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_daemonset_shape():
    cm, pod = _pod()
    spec = pod["spec"]
    box, = spec["containers"]
    sc = box["securityContext"]
    assert spec["hostPID"] is True and spec["automountServiceAccountToken"] is False
    assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"],
                                  "add": ["BPF", "PERFMON", "KILL", "SYS_RESOURCE"]}
    assert sc["seccompProfile"] == {"type": "Unconfined"}
    mounts = {m["mountPath"]: m for m in box["volumeMounts"]}
    host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    for path in ["/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup",
                 "/sys/kernel/debug", "/sys/kernel/security"]:
        m = mounts[path]
        assert m["readOnly"] is True and host[m["name"]] == path, m
    assert set(box["resources"]) == {"requests", "limits"}
    assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    port, = box["ports"]
    assert (port["name"], port["containerPort"]) == ("metrics", 9477)
    assert box["args"][box["args"].index("--metrics-listen") + 1] == "0.0.0.0:9477"
    notes = pod["metadata"]["annotations"]
    assert (notes["prometheus.io/scrape"], notes["prometheus.io/port"],
            notes["prometheus.io/path"]) == ("true", "9477", "/metrics")
    # The policy: the ConfigMap's one key, mounted where --config reads it.
    policy, = [v for v in spec["volumes"] if "configMap" in v]
    assert policy["configMap"]["name"] == cm["metadata"]["name"]
    assert list(cm["data"]) == ["policy.toml"]
    assert mounts["/etc/ethoswd"]["name"] == policy["name"]
    assert box["args"][:2] == ["--config", "/etc/ethoswd/policy.toml"]


def test_pod_for_podman_from_the_template():
    _, ds_pod = _pod()
    _, pod = _pod("--drop-arg", "--metrics-listen", "--arg", "--comm", "--arg", "x",
                  "--port", "metrics=1234", "--host-network")
    box, = pod["spec"]["containers"]
    assert box["args"] == ["--config", "/etc/ethoswd/policy.toml", "--comm", "x"]
    assert pod["spec"]["hostNetwork"] is True and "ports" not in box
    assert box["livenessProbe"]["httpGet"]["port"] == 1234
    assert pod["metadata"]["annotations"][
        "container.seccomp.security.alpha.kubernetes.io/ethoswd"] == "unconfined"
    # Everything else is the DaemonSet's template as shipped.
    for key in ["volumes", "hostPID", "tolerations", "serviceAccountName"]:
        assert pod["spec"][key] == ds_pod["spec"][key]
    assert box["securityContext"] == ds_pod["spec"]["containers"][0]["securityContext"]


def test_configmap_policy_is_a_config_both_accept(tmp_path):
    cm, _ = _pod()
    f = tmp_path / "policy.toml"
    f.write_text(cm["data"]["policy.toml"])
    # Accepted by watchdog.py and ethoswd alike: without capabilities, the
    # first refusal of both is then the privilege check.
    line = parity.same_refusal(parity.answers(["--config", str(f)], wrap=parity.unprivileged()))
    assert "CAP_BPF" in line, line
