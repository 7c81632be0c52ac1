import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { nodeFiles } from '../../deploy/kubernetes/generate.ts';
import { freePort, httpOk, type ManagedProcess, startProcess } from '../../src/stack/servers/process.ts';
import { startRedis } from '../../src/stack/servers/redis.ts';
import { RTCMON_BIN } from '../../src/stack/servers/role.ts';

/**
 * deploy/kubernetes, offline: every overlay rendered by kubectl's kustomize, every object validated against
 * the Kubernetes OpenAPI schemas (kubernetes-models; prometheus-operator's for ServiceMonitor), the rendered
 * Prometheus config through promtool, every rtcmon container's args and env through the role's
 * --check-config, and every probe against the role itself, started with the container's args.
 */
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const k8s = join(repo, 'deploy', 'kubernetes');

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
}

const MODELS: Record<
  string,
  { validate(): void } extends never ? never : new (o: never) => { validate(): void }
> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

function overlays(): string[] {
  const out: string[] = [];
  for (const layer of readdirSync(k8s, { withFileTypes: true })) {
    const dir = join(k8s, layer.name, 'overlays');
    if (layer.isDirectory() && existsSync(dir))
      for (const o of readdirSync(dir))
        if (existsSync(join(dir, o, 'kustomization.yaml'))) out.push(join(dir, o));
  }
  return out.sort();
}

const podSpec = (o: Obj): PodSpec | undefined =>
  ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind)
    ? (o as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec
    : undefined;
const isRtcmon = (c: Container) => /(^|\/)rtcmon(:|$)/.test(c.image);

describe('deploy/kubernetes: kustomize overlays, schemas, Prometheus config, role flags and probes', () => {
  const rendered = new Map<string, Obj[]>();
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rtcmon-k8s-'));
    for (const o of overlays()) {
      const text = execFileSync('kubectl', ['kustomize', o], { encoding: 'utf8' });
      rendered.set(
        relative(k8s, o),
        parseAllDocuments(text).map((d) => d.toJS() as Obj),
      );
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Data of a rendered ConfigMap or Secret (decoded). */
  const dataOf = (objs: Obj[], kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> => {
    const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
    assert.ok(o, `${kind} ${name} is not in the render`);
    const data = (o as unknown as { data?: Record<string, string> }).data ?? {};
    return kind === 'Secret'
      ? Object.fromEntries(
          Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
        )
      : data;
  };

  it('every overlay renders, per Kubernetes cluster and per data centre', () => {
    const names = [...rendered.keys()];
    assert.ok(
      names.some((n) => n.startsWith('cluster/')) && names.some((n) => n.startsWith('datacenter/')),
      names.join(),
    );
    for (const [name, objs] of rendered) {
      const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`);
      process.stdout.write(`# ${name}: ${objs.length} objects\n`);
      if (name.startsWith('cluster/'))
        for (const want of [
          'StatefulSet/prometheus',
          'DaemonSet/node-exporter',
          'Deployment/rtcmon-adapter',
          'Deployment/rtcmon-exporter',
          'Deployment/rtcmon-dispatcher',
          'Deployment/rtcmon-redis',
          'Deployment/rtcmon-console',
          'PodDisruptionBudget/rtcmon-adapter',
        ])
          assert.ok(kinds.includes(want), `${name} lacks ${want}`);
      if (name.startsWith('datacenter/')) {
        const sts = (n: string) =>
          objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === n) as unknown as {
            spec: { replicas: number };
          };
        assert.equal(sts('clickhouse').spec.replicas, 6);
        assert.equal(sts('zookeeper').spec.replicas, 3);
      }
      const adapter = objs.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === 'rtcmon-adapter',
      ) as unknown as { spec: { replicas: number } } | undefined;
      if (adapter) assert.equal(adapter.spec.replicas, 2);
    }
  });

  it('every object is valid against the Kubernetes OpenAPI schemas (offline)', () => {
    let n = 0;
    for (const [name, objs] of rendered)
      for (const o of objs) {
        const Model = MODELS[`${o.apiVersion}/${o.kind}`];
        assert.ok(Model, `${name}: no schema for ${o.apiVersion} ${o.kind}`);
        assert.doesNotThrow(() => new Model(o as never).validate(), `${name}: ${o.kind}/${o.metadata.name}`);
        n++;
      }
    // The validator is not a no-op: a wrong type and a missing required field are refused.
    const adapter = rendered
      .get('cluster/overlays/dc1-a')!
      .find((o) => o.metadata.name === 'rtcmon-adapter' && o.kind === 'Deployment')!;
    const bad = structuredClone(adapter) as unknown as { spec: { replicas: unknown; selector?: unknown } };
    bad.spec.replicas = 'two';
    assert.throws(() => new Deployment(bad as never).validate());
    delete bad.spec.selector;
    bad.spec.replicas = 2;
    assert.throws(() => new Deployment(bad as never).validate());
    process.stdout.write(`# ${n} objects validated\n`);
  });

  it('workloads run non-root with a read-only root filesystem and resource requests', () => {
    for (const [name, objs] of rendered)
      for (const o of objs) {
        const spec = podSpec(o) as
          | (PodSpec & { securityContext?: { runAsNonRoot?: boolean }; initContainers?: Container[] })
          | undefined;
        if (!spec) continue;
        assert.equal(spec.securityContext?.runAsNonRoot, true, `${name} ${o.metadata.name}`);
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
          const cc = c as Container & {
            securityContext?: { readOnlyRootFilesystem?: boolean };
            resources?: { requests?: unknown };
          };
          assert.equal(
            cc.securityContext?.readOnlyRootFilesystem,
            true,
            `${name} ${o.metadata.name}/${c.name}`,
          );
          assert.ok(cc.resources?.requests, `${name} ${o.metadata.name}/${c.name} has no requests`);
        }
      }
  });

  it('promtool accepts every rendered Prometheus config', () => {
    let n = 0;
    for (const [name, objs] of rendered) {
      if (!objs.some((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('prometheus-config')))
        continue;
      const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('prometheus-config'))!;
      const file = join(dir, `${name.replace(/\//g, '_')}.yml`);
      writeFileSync(file, dataOf(objs, 'ConfigMap', cm.metadata.name)['prometheus.yml']!);
      const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
      const text = readFileSync(file, 'utf8');
      assert.match(text, /url: http:\/\/rtcmon-adapter:9201\/write/);
      assert.match(text, /url: http:\/\/rtcmon-adapter:9201\/read/);
      n++;
    }
    assert.ok(n >= 1);
  });

  /** The container's args and env, with ConfigMap mounts written under the temp dir and paths rewritten. */
  function localRun(overlay: string, objs: Obj[], o: Obj, c: Container) {
    const spec = podSpec(o)!;
    const root = join(dir, overlay.replace(/\//g, '_'), o.metadata.name, c.name);
    let args = [...(c.command?.slice(1) ?? []), ...(c.args ?? [])];
    for (const m of c.volumeMounts ?? []) {
      const v = spec.volumes?.find((x) => x.name === m.name);
      if (!v?.configMap && !v?.secret) continue;
      const data = v.configMap
        ? dataOf(objs, 'ConfigMap', v.configMap.name)
        : dataOf(objs, 'Secret', v.secret!.secretName);
      const local = join(root, m.name);
      mkdirSync(local, { recursive: true });
      for (const [k, text] of Object.entries(data)) writeFileSync(join(local, k), text);
      args = args.map((a) => a.split(`=${m.mountPath}/`).join(`=${local}/`));
    }
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
      if (ref) {
        const data = dataOf(objs, e.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name);
        assert.ok(
          ref.key in data,
          `${overlay} ${o.metadata.name}: ${e.name} refers to missing key ${ref.key}`,
        );
        env[e.name] = data[ref.key]!;
      } else env[e.name] = e.value ?? '';
    }
    return { role: args[0]!, args: args.slice(1), env };
  }
  const cleanEnv = () =>
    Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RTCMON_')));

  it("every rtcmon container's args, env and config files are accepted by its role (--check-config)", () => {
    let n = 0;
    for (const [overlay, objs] of rendered)
      for (const o of objs)
        for (const c of podSpec(o)?.containers.filter(isRtcmon) ?? []) {
          const { role, args, env } = localRun(overlay, objs, o, c);
          const r = spawnSync(RTCMON_BIN, [role, ...args, '--check-config'], {
            encoding: 'utf8',
            env: { ...cleanEnv(), ...env },
          });
          assert.equal(
            r.status,
            0,
            `${overlay} ${o.metadata.name}: rtcmon ${role} ${args.join(' ')}: ${r.stderr}`,
          );
          assert.match(r.stdout, /configuration OK/);
          const listen = args.find((a) => a.startsWith('--web.listen-address='));
          assert.ok(listen, `${o.metadata.name} sets no --web.listen-address`);
          assert.ok(
            c.ports?.some((p) => listen.endsWith(`:${p.containerPort}`)),
            `${o.metadata.name}: ${listen} is not a container port`,
          );
          n++;
        }
    assert.ok(n >= 8, `${n} rtcmon containers checked`);
    process.stdout.write(`# ${n} rtcmon containers' flags accepted\n`);
  });

  /**
   * Starts each rtcmon container of the first cluster overlay as a local process with the container's args
   * (listen address moved to loopback) and checks its probes: liveness must answer while the dependencies
   * are down; readiness must be a served path.
   */
  async function probeRoles(redisUrl: string, only?: string) {
    const [overlay, objs] = [...rendered].find(([n]) => n.startsWith('cluster/'))!;
    for (const o of objs)
      for (const c of podSpec(o)?.containers.filter(isRtcmon) ?? []) {
        const { role, args, env } = localRun(overlay, objs, o, c);
        if (only && role !== only) continue;
        const port = await freePort();
        // Every dependency points at a closed port on loopback: nothing leaves the machine.
        const down = 'http://127.0.0.1:9';
        const deps: Record<string, string> = {
          RTCMON_CLICKHOUSE_URL: down,
          RTCMON_PROMETHEUS_URL: down,
          RTCMON_DISPATCHER_URL: down,
          RTCMON_REDIS_URL: redisUrl,
          ...(role === 'adapter' ? { RTCMON_CLICKHOUSE_NODES: down } : {}),
        };
        const live = c.livenessProbe?.httpGet;
        const ready = c.readinessProbe?.httpGet;
        assert.ok(live && ready, `${o.metadata.name}: HTTP liveness and readiness probes`);
        let proc: ManagedProcess | undefined;
        try {
          proc = await startProcess({
            name: `${role}-probe`,
            command: RTCMON_BIN,
            args: [
              role,
              ...args.filter((a) => !a.startsWith('--web.listen-address=')),
              `--web.listen-address=127.0.0.1:${port}`,
            ],
            env: { ...cleanEnv(), ...env, ...deps },
            logDir: join(dir, 'logs'),
            ready: () => httpOk(`http://127.0.0.1:${port}${live.path}`),
            readyTimeoutMs: 30_000,
          });
          const r = await fetch(`http://127.0.0.1:${port}${ready.path}`);
          await r.arrayBuffer();
          assert.notEqual(r.status, 404, `${role}: readiness path ${ready.path} is not served`);
          if (role === 'adapter') assert.equal(r.status, 503, 'adapter not ready without ClickHouse');
          process.stdout.write(
            `# ${role}: ${live.path} 200 with its dependencies down, ${ready.path} ${r.status}\n`,
          );
        } finally {
          await proc?.stop();
        }
      }
  }

  it('probes hit paths the roles serve; liveness answers with ClickHouse and Prometheus down', async () => {
    const redis = await startRedis({ dir: join(dir, 'redis'), logDir: join(dir, 'logs') });
    try {
      await probeRoles(redis.url);
    } finally {
      await redis.stop();
    }
  });

  it('dispatcher liveness with Redis down', async () => {
    await probeRoles('redis://127.0.0.1:9', 'dispatcher');
  });

  it("the ClickHouse node configs are what generate.ts writes from the stack's cluster generator", () => {
    const base = join(k8s, 'datacenter', 'base', 'clickhouse');
    const files = nodeFiles();
    assert.equal(files.size, 6);
    for (const [name, text] of files)
      assert.equal(
        readFileSync(join(base, name), 'utf8'),
        text,
        `${name} is stale: run npm run deploy:generate`,
      );
  });
});
