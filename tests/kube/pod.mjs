// SPDX-License-Identifier: GPL-2.0
// pod.mjs - the Pod `podman kube play` runs, made from the shipped
// DaemonSet (podman 4.3 plays Pods and Deployments, not DaemonSets).
//
//   node tests/kube/pod.mjs deploy/kubernetes [--drop-arg FLAG]... [--arg ARG]...
//                           [--port NAME=NUMBER]... [--host-network] [--json]
//
// Prints the ConfigMap of configmap.yaml and a Pod named as the DaemonSet,
// with its pod template's labels, annotations and spec unchanged, except
// that each --drop-arg FLAG removes FLAG and the value after it from the
// ethoswd container's args, and each --arg is appended to them (ethoswd
// gives flags precedence over the --config file, so a test can narrow the
// shipped policy to its own reader).  --port NAME=NUMBER renumbers the
// container port NAME (so a test's --metrics-listen and the liveness probe
// agree on a free port).  --host-network: the pod in the
// host's network namespace (hostNetwork, which podman 4.3 plays), so a
// test reaches --metrics-listen on 127.0.0.1 without a pod network; its
// port list goes (podman refuses port mappings there) and a probe's named
// port becomes that port's number.  --json: the same two objects as a JSON
// array (for the Python tests) instead of YAML documents.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";

function usage() {
  console.error("usage: node pod.mjs DIR [--drop-arg FLAG]... [--arg ARG]... [--port NAME=NUMBER]... [--host-network] [--json]");
  process.exit(2);
}

const argv = process.argv.slice(2);
const extra = [];
const drop = [];
const renumber = new Map();
let dir = null;
let json = false;
let hostNet = false;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--arg" && i + 1 < argv.length) extra.push(argv[++i]);
  else if (argv[i] === "--drop-arg" && i + 1 < argv.length) drop.push(argv[++i]);
  else if (argv[i] === "--port" && /^[a-z0-9-]+=[0-9]+$/.test(argv[i + 1] ?? "")) {
    const [name, number] = argv[++i].split("=");
    renumber.set(name, Number(number));
  }
  else if (argv[i] === "--json") json = true;
  else if (argv[i] === "--host-network") hostNet = true;
  else if (dir === null && !argv[i].startsWith("--")) dir = argv[i];
  else usage();
}
if (dir === null) usage();

const read = (name) => YAML.parse(readFileSync(join(dir, name), "utf8"));
const ds = read("daemonset.yaml");
const cm = read("configmap.yaml");
if (ds.kind !== "DaemonSet" || cm.kind !== "ConfigMap") usage();

const tpl = structuredClone(ds.spec.template);
const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: ds.metadata.name, namespace: ds.metadata.namespace, ...tpl.metadata },
  spec: tpl.spec,
};
const box = pod.spec.containers.find((c) => c.name === ds.metadata.name);
if (!box) {
  console.error(`pod.mjs: no container named ${ds.metadata.name} in the DaemonSet`);
  process.exit(1);
}
const kept = [];
for (let i = 0, args = box.args ?? []; i < args.length; i++) {
  if (drop.includes(args[i])) i++; // the flag and its value
  else kept.push(args[i]);
}
box.args = [...kept, ...extra];
for (const c of pod.spec.containers) {
  for (const p of c.ports ?? []) {
    if (renumber.has(p.name)) p.containerPort = renumber.get(p.name);
  }
}
// podman 4.3 reads a container's seccomp profile only from the annotation
// Kubernetes used before securityContext.seccompProfile (which it ignores):
// write an Unconfined profile there too, so the Pod runs as the DaemonSet.
for (const c of pod.spec.containers) {
  if (c.securityContext?.seccompProfile?.type === "Unconfined") {
    pod.metadata.annotations = {
      ...pod.metadata.annotations,
      [`container.seccomp.security.alpha.kubernetes.io/${c.name}`]: "unconfined",
    };
  }
}
if (hostNet) {
  pod.spec.hostNetwork = true;
  for (const c of pod.spec.containers) {
    const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      const get = probe?.httpGet;
      if (get && ports.has(get.port)) get.port = ports.get(get.port);
    }
    delete c.ports;
  }
}

if (json) console.log(JSON.stringify([cm, pod]));
else console.log(`${YAML.stringify(cm)}---\n${YAML.stringify(pod)}`);
