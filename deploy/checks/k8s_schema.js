// Validates rendered Kubernetes manifests against the Kubernetes API schema, offline.
//
//   node k8s_schema.js FILE.yaml...
//
// Two independent checks per object, both from npm packages pinned in package-lock.json:
//  1. kubernetes-models: the OpenAPI schema of each kind compiled to validators (types,
//     required fields, enums, formats);
//  2. @kubernetes/client-node's generated models (OpenAPI of Kubernetes 1.30): every field name
//     must exist in the schema, recursively, and every value must have the field's type. This
//     catches misspelt and misplaced fields, which (1) lets through and which an API server
//     would silently drop.
// Plus a few rules the API server applies beyond the schema (names, labels, port names).
// Prints one line per problem and exits 1 when there is any. Needs NODE_PATH pointing at the
// node_modules that check_manifests.sh installs.
'use strict';

const fs = require('fs');
const yaml = require('js-yaml');
const clientModels = require('@kubernetes/client-node/dist/gen/model/models.js');

// Map values that hold resource quantities: YAML may give `cpu: 1` as a number, which the API
// server accepts (resource.Quantity), while the generated model says string.
const QUANTITY_MAPS = new Set(['requests', 'limits', 'capacity', 'hard', 'allocatable']);
const QUANTITY_FIELDS = new Set(['sizeLimit', 'storage']);

const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^$|^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const PORT_NAME = /^(?=.{1,15}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function clientModelName(apiVersion, kind) {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const ver = version.charAt(0).toUpperCase() + version.slice(1);
  const candidates = [`${ver}${kind}`];
  if (group) {
    const g = group.split('.')[0];
    candidates.push(`${g.charAt(0).toUpperCase()}${g.slice(1)}${ver}${kind}`);
  } else {
    candidates.push(`Core${ver}${kind}`);
  }
  return candidates.find((name) => clientModels[name] && clientModels[name].attributeTypeMap);
}

function kubernetesModel(apiVersion, kind) {
  try {
    const mod = require(`kubernetes-models/${apiVersion}/${kind}`);
    return mod[kind];
  } catch (e) {
    return undefined;
  }
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Checks `value` against the generated model type `type`; pushes problems as "path: message".
function checkType(value, type, path, field, problems) {
  if (value === null || value === undefined) return; // unset
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (!Array.isArray(value)) return problems.push(`${path}: expected a list (${type})`);
    value.forEach((item, i) => checkType(item, m[1], `${path}[${i}]`, field, problems));
    return;
  }
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (!isPlainObject(value)) return problems.push(`${path}: expected a map (${type})`);
    for (const [k, v] of Object.entries(value)) {
      if (QUANTITY_MAPS.has(field) && typeof v === 'number') continue;
      checkType(v, m[1], `${path}.${k}`, k, problems);
    }
    return;
  }
  switch (type) {
    case 'string':
    case 'Date':
      if (typeof value === 'string') return;
      if (QUANTITY_FIELDS.has(field) && typeof value === 'number') return;
      return problems.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
    case 'number':
      if (typeof value !== 'number') problems.push(`${path}: expected a number, got ${JSON.stringify(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${path}: expected true/false, got ${JSON.stringify(value)}`);
      return;
    case 'IntOrString':
      if (typeof value !== 'number' && typeof value !== 'string') {
        problems.push(`${path}: expected an integer or a string`);
      }
      return;
    case 'object':
    case 'any':
      return;
    default: {
      const cls = clientModels[type];
      if (!cls || !cls.attributeTypeMap) return problems.push(`${path}: no schema for type ${type}`);
      if (!isPlainObject(value)) return problems.push(`${path}: expected an object (${type})`);
      const fields = new Map(cls.attributeTypeMap.map((a) => [a.baseName, a.type]));
      for (const [k, v] of Object.entries(value)) {
        if (!fields.has(k)) {
          problems.push(`${path}.${k}: unknown field (not in ${type})`);
          continue;
        }
        checkType(v, fields.get(k), `${path}.${k}`, k, problems);
      }
    }
  }
}

// API server rules outside the OpenAPI schema, for the parts our manifests use.
function checkNames(obj, path, problems) {
  const walk = (node, p) => {
    if (Array.isArray(node)) return node.forEach((x, i) => walk(x, `${p}[${i}]`));
    if (!isPlainObject(node)) return;
    for (const [k, v] of Object.entries(node)) {
      const q = `${p}.${k}`;
      if ((k === 'labels' || k === 'matchLabels') && isPlainObject(v)) {
        for (const [lk, lv] of Object.entries(v)) {
          const parts = lk.split('/');
          const name = parts.pop();
          if (parts.length > 1 || (parts.length === 1 && !DNS1123_SUBDOMAIN.test(parts[0])) ||
              !LABEL_NAME.test(name)) {
            problems.push(`${q}: invalid label key ${lk}`);
          }
          if (typeof lv !== 'string' || !LABEL_VALUE.test(lv)) {
            problems.push(`${q}.${lk}: invalid label value ${JSON.stringify(lv)}`);
          }
        }
      }
      if (k === 'annotations' && isPlainObject(v)) {
        for (const [ak, av] of Object.entries(v)) {
          if (typeof av !== 'string') problems.push(`${q}.${ak}: annotation values must be strings`);
        }
      }
      if ((k === 'containers' || k === 'initContainers') && Array.isArray(v)) {
        v.forEach((c, i) => {
          if (!DNS1123_LABEL.test(c.name || '')) problems.push(`${q}[${i}].name: not a DNS-1123 label`);
          (c.ports || []).forEach((port, j) => {
            if (port.name !== undefined && !PORT_NAME.test(port.name)) {
              problems.push(`${q}[${i}].ports[${j}].name: ${port.name} is not a valid port name (<= 15 chars)`);
            }
          });
          (c.env || []).forEach((e, j) => {
            if (!ENV_NAME.test(e.name || '')) problems.push(`${q}[${i}].env[${j}].name: invalid`);
          });
        });
      }
      walk(v, q);
    }
  };
  walk(obj, path);
}

function validateObject(obj, where) {
  const problems = [];
  if (!isPlainObject(obj)) return [`${where}: not an object`];
  const { apiVersion, kind } = obj;
  const name = obj.metadata && obj.metadata.name;
  const id = `${where} ${kind}/${name}`;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return [`${id}: apiVersion and kind are required`];
  if (typeof name !== 'string' || !DNS1123_SUBDOMAIN.test(name)) problems.push(`metadata.name: ${JSON.stringify(name)} is not a DNS-1123 subdomain`);
  if (obj.metadata.namespace !== undefined && !DNS1123_LABEL.test(obj.metadata.namespace)) {
    problems.push('metadata.namespace: not a DNS-1123 label');
  }

  const Model = kubernetesModel(apiVersion, kind);
  if (!Model) {
    problems.push(`unknown apiVersion/kind ${apiVersion}/${kind} (kubernetes-models)`);
  } else {
    try {
      new Model(obj).validate();
    } catch (e) {
      problems.push(`schema: ${String(e.message || e).replace(/\n/g, '; ')}`);
    }
  }
  const clientName = clientModelName(apiVersion, kind);
  if (!clientName) {
    problems.push(`unknown apiVersion/kind ${apiVersion}/${kind} (client-node models)`);
  } else {
    checkType(obj, clientName, '', '', problems);
  }
  checkNames(obj, '', problems);
  return problems.map((p) => `${id}: ${p.replace(/^\./, '')}`);
}

function main(files) {
  if (files.length === 0) {
    console.error('usage: node k8s_schema.js FILE.yaml...');
    process.exit(2);
  }
  let count = 0;
  const problems = [];
  for (const file of files) {
    let docs;
    try {
      // CORE schema: no implicit timestamps; YAML 1.1 booleans are yamllint's business.
      docs = yaml.loadAll(fs.readFileSync(file, 'utf8'), null, { schema: yaml.CORE_SCHEMA });
    } catch (e) {
      problems.push(`${file}: YAML: ${e.message}`);
      continue;
    }
    docs.forEach((doc, i) => {
      if (doc === null || doc === undefined) return;
      count += 1;
      problems.push(...validateObject(doc, `${file}#${i + 1}`));
    });
  }
  for (const p of problems) console.log(`  ${p}`);
  console.log(`schema: ${count} objects checked, ${problems.length} problems`);
  process.exit(problems.length === 0 && count > 0 ? 0 : 1);
}

main(process.argv.slice(2));
