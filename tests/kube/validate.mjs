// SPDX-License-Identifier: GPL-2.0
// validate.mjs - check Kubernetes manifests offline against the API schema.
//
//   node tests/kube/validate.mjs deploy/kubernetes/*.yaml
//
// Each YAML document is validated twice, as `kubeconform -strict` would:
// 1. by kubernetes-models (npm, pinned in package.json and
//    package-lock.json): JSON-schema validators generated from the
//    Kubernetes 1.27 OpenAPI document (types, required fields, enums,
//    formats);
// 2. for fields the API does not have (a misspelt `hostPid` passes 1:
//    the OpenAPI schemas allow extra properties, the API server drops
//    them), walking the same package's type declarations (.d.ts), which
//    list every field of every object.
// Prints one "ok KIND NAME" line per document, or "FILE: KIND NAME: ..."
// lines for what is wrong; exits 1 if anything is wrong (2 on bad usage).
import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const MODULES = join(dirname(fileURLToPath(import.meta.url)), "node_modules");

// The model class of apiVersion + kind, and its declaration file.
async function model(apiVersion, kind) {
  const group = apiVersion.includes("/") ? apiVersion : `v1`;
  if (!/^[a-z0-9.]+(\/v[0-9a-z]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind)) {
    return null;
  }
  const dir = join(MODULES, "kubernetes-models", group);
  if (!existsSync(join(dir, `${kind}.d.ts`))) return null;
  const mod = await import(`kubernetes-models/${group}/${kind}`);
  return { cls: mod[kind], dts: join(dir, `${kind}.d.ts`) };
}

// ---- the fields of each declared interface ---------------------------------
const declared = new Map(); // .d.ts path -> {fields: Map(name -> type), imports}

function resolveImport(from, spec) {
  if (spec.startsWith(".")) return join(dirname(from), `${spec}.d.ts`);
  return join(MODULES, `${spec}.d.ts`);
}

function declaration(path) {
  if (declared.has(path)) return declared.get(path);
  const text = readFileSync(path, "utf8")
    .replace(/\/\*\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\n/gm, "");
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    imports.set(m[1], resolveImport(path, m[2]));
  }
  // `export interface IX ... {` up to the `}` that closes it at column 0.
  const body = /^export interface \w+[^{]*\{\n([\s\S]*?)^\}/m.exec(text);
  let fields = null;
  if (body) {
    fields = new Map();
    for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: ([\s\S]*?);\n(?= {4}"|$)/gm)) {
      fields.set(m[1], m[2].replace(/\s+/g, " ").trim());
    }
  }
  const d = { fields, imports };
  declared.set(path, d);
  return d;
}

// Fields `value` has that the type declared in `path` does not, as paths.
function unknownFields(value, path, where, out) {
  const d = declaration(path);
  if (!d.fields || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const type = d.fields.get(key);
    if (type === undefined) {
      out.push(`${where}/${key}: no such field`);
      continue;
    }
    walkType(v, type, d.imports, `${where}/${key}`, out);
  }
}

function walkType(value, type, imports, where, out) {
  let m;
  if ((m = /^Array<(\w+)>$/.exec(type)) && Array.isArray(value)) {
    value.forEach((item, i) => walkType(item, m[1], imports, `${where}/${i}`, out));
  } else if ((m = /^\{ \[key: string\]: (\w+); \}$/.exec(type)) && value && typeof value === "object") {
    for (const [k, item] of Object.entries(value)) walkType(item, m[1], imports, `${where}/${k}`, out);
  } else if (imports.has(type)) {
    unknownFields(value, imports.get(type), where, out);
  }
}

// ---- main ------------------------------------------------------------------
async function check(file, doc) {
  const obj = doc.toJS();
  if (obj === null || obj === undefined) return [];
  const name = `${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"}`;
  const problems = doc.errors.map((e) => e.message);
  const m = obj.apiVersion && obj.kind ? await model(obj.apiVersion, obj.kind) : null;
  if (!m) {
    problems.push(`unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`);
  } else {
    try {
      new m.cls(obj).validate();
    } catch (e) {
      problems.push(...String(e.message).split("\n").filter(Boolean));
    }
    unknownFields(obj, m.dts, "", problems);
  }
  if (!problems.length) {
    console.log(`ok ${name} (${file})`);
    return [];
  }
  return problems.map((p) => `${file}: ${name}: ${p}`);
}

const files = process.argv.slice(2);
if (!files.length) {
  console.error("usage: node validate.mjs FILE.yaml...");
  process.exit(2);
}
let bad = [];
for (const file of files) {
  const docs = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  for (const doc of docs) bad = bad.concat(await check(file, doc));
}
for (const line of bad) console.error(line);
process.exit(bad.length ? 1 : 0);
