#!/usr/bin/env node
// bash tools/run e2e-cluster [--dry-run] [--platform ID] [--assets FILE] [--images IMAGES_JSON]
//
// The generated deployment on a real cluster ($KUBECONFIG), written as upstream's e2e suite is:
// one namespace per run, each step a named check with its time, cleanup always. Without KUBECONFIG
// it prints a notice and exits 0 (nothing here has a cluster). --dry-run runs the local half
// (runtime and generate, every manifest validated) and prints the cluster steps with their
// commands without running them. Exit 1 names the failed step; 2 is bad usage.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import {
  digestOf,
  INITDATA_ANNOTATION,
  loadResources,
  podPolicy,
  podTemplateOf,
  ROLE_ANNOTATION,
} from './plan.mjs';
import {
  cli,
  copyShop,
  elapsed,
  freePort,
  newRun,
  readYamlFiles,
  root,
  runMain,
  step as runStep,
  say,
  Usage,
} from './steps.mjs';

export const COORDINATOR_REPLICAS = 3;

const USAGE =
  'usage: bash tools/run e2e-cluster [--dry-run] [--platform Metal-QEMU-SNP|Metal-QEMU-TDX|AKS-CLH-SNP] [--assets FILE] [--images IMAGES_JSON]';

export function parseArgs(argv) {
  const opts = { dryRun: false, platform: 'Metal-QEMU-SNP' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => {
      const v = inline ?? argv[++i];
      if (!v) throw new Usage(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--dry-run') opts.dryRun = true;
    else if (flag === '--platform') opts.platform = value();
    else if (flag === '--assets') opts.assets = path.resolve(value());
    else if (flag === '--images') opts.images = path.resolve(value());
    else throw new Usage(`unknown argument ${argv[i]}\n${USAGE}`);
  }
  return opts;
}

/**
 * Checks the resources the cluster run would apply; returns the problems (empty = fine), each
 * naming the file and what is wrong. `runtimeClass`: the platform's RuntimeClass name.
 */
export function validateResources(resources, manifest, { runtimeClass }) {
  const problems = [];
  const policies = new Set(Object.keys(manifest.Policies ?? {}));
  let coordinator;
  for (const { file, obj } of resources) {
    const template = podTemplateOf(obj);
    if (!template) continue;
    const where = `${file}: ${obj.kind} ${obj.metadata?.name}`;
    const spec = template.spec ?? {};
    if (spec.runtimeClassName !== runtimeClass) {
      problems.push(`${where}: runtimeClassName ${spec.runtimeClassName}, expected ${runtimeClass}`);
    }
    if (!template.metadata?.annotations?.[INITDATA_ANNOTATION]) {
      problems.push(`${where}: no initdata annotation`);
      continue;
    }
    const policy = podPolicy(template, file);
    if (!policies.has(policy.digest))
      problems.push(`${where}: its policy ${policy.digest} is not in the manifest`);
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      if (!digestOf(c.image))
        problems.push(`${where}: container ${c.name}: image ${c.image} is not pinned by digest`);
      else if (/@sha256:0{64}$/.test(c.image))
        problems.push(`${where}: container ${c.name}: the zero digest`);
    }
    if (template.metadata?.annotations?.[ROLE_ANNOTATION] === 'coordinator') {
      coordinator = { where, obj, spec };
    }
  }
  if (!coordinator) {
    problems.push('no Coordinator (pod-role annotation) among the resources');
    return problems;
  }
  if (coordinator.obj.kind !== 'StatefulSet' || coordinator.obj.spec?.replicas !== COORDINATOR_REPLICAS) {
    problems.push(`${coordinator.where}: expected a StatefulSet with ${COORDINATOR_REPLICAS} replicas`);
  }
  const env = Object.fromEntries((coordinator.spec.containers?.[0]?.env ?? []).map((e) => [e.name, e.value]));
  if ((env.CONTRAST_STORE ?? 'configmap') !== 'configmap') {
    problems.push(
      `${coordinator.where}: CONTRAST_STORE=${env.CONTRAST_STORE}: the replicas share the ConfigMap store`,
    );
  }
  if (env.CONTRAST_PEERS === 'off')
    problems.push(`${coordinator.where}: CONTRAST_PEERS=off: no recovery from a peer`);
  const ns = coordinator.obj.metadata?.namespace;
  const role = resources.find((r) => r.obj.kind === 'Role' && r.obj.metadata?.namespace === ns)?.obj;
  const allows = (group, resource, verbs) =>
    (role?.rules ?? []).some(
      (r) =>
        (r.apiGroups ?? []).includes(group) &&
        (r.resources ?? []).includes(resource) &&
        verbs.every((v) => (r.verbs ?? []).includes(v)),
    );
  if (!allows('', 'configmaps', ['get', 'list', 'watch', 'create', 'update'])) {
    problems.push(`Role in ${ns}: the Coordinator needs get/list/watch/create/update on configmaps`);
  }
  if (!allows('discovery.k8s.io', 'endpointslices', ['list'])) {
    problems.push(`Role in ${ns}: the Coordinator needs list on endpointslices (peer recovery)`);
  }
  if (!resources.some((r) => r.obj.kind === 'Service' && r.obj.metadata?.name === 'coordinator')) {
    problems.push(`no Service coordinator in ${ns} (the peers are its EndpointSlices)`);
  }
  return problems;
}

/** Checks the runtime objects of `contrast runtime`; returns the problems and the RuntimeClass name. */
export function validateRuntime(resources) {
  const problems = [];
  const classes = resources.filter((r) => r.obj.kind === 'RuntimeClass');
  if (classes.length !== 1)
    problems.push(`contrast runtime printed ${classes.length} RuntimeClasses, expected 1`);
  for (const { obj } of resources) {
    const template = podTemplateOf(obj);
    for (const c of [...(template?.spec?.initContainers ?? []), ...(template?.spec?.containers ?? [])]) {
      if (!digestOf(c.image) || /@sha256:0{64}$/.test(c.image)) {
        problems.push(
          `${obj.kind} ${obj.metadata?.name}: container ${c.name}: image ${c.image} is not pinned by a real digest`,
        );
      }
    }
  }
  return { problems, runtimeClass: classes[0]?.obj.metadata?.name };
}

/** A program run; resolves { code, out }. */
function exec(cmd, args, { cwd, env, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
    child.stdin.end(input ?? '');
  });
}

async function execOk(cmd, args, options) {
  const r = await exec(cmd, args, options);
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${(r.err || r.out).trim().slice(-1500)}`);
  return r.out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!opts.dryRun && !process.env.KUBECONFIG) {
    say(
      'e2e-cluster: SKIPPED: KUBECONFIG is not set. This run needs a real Kubernetes cluster with ' +
        `${opts.platform} nodes (and images the cluster can pull: --images). ` +
        'Use --dry-run to check the local half and see every step it would run.',
    );
    return;
  }
  if (!opts.dryRun && !opts.images && !process.env.CONTRAST_IMAGES) {
    throw new Usage(
      'a cluster run needs the images: --images <images.json of pnpm images build --push REGISTRY>',
    );
  }
  const { name: ns, ws } = newRun();
  const resourcesDir = path.join(ws, 'resources');
  const contrast = (args, env) =>
    execOk(process.execPath, [cli, ...args], {
      cwd: ws,
      env: {
        ...(opts.images ? { CONTRAST_IMAGES: opts.images } : {}),
        // the dry run without images reads the recorded facts (nothing fetched)
        ...(opts.dryRun && !opts.images && !process.env.CONTRAST_IMAGES
          ? { CONTRAST_IMAGE_FACTS: path.join(root, 'examples/shop/image-facts.json') }
          : {}),
        ...env,
      },
    });
  const kubectl = (args) => execOk('kubectl', args);
  const planned = [];
  let failure;
  const step = (name, commands, fn) => {
    const skip = opts.dryRun && !fn.local;
    if (skip) planned.push(name);
    return runStep(name, fn, { commands, ...(skip ? { skip: 'dry run: not run' } : {}) });
  };
  const local = (fn) => Object.assign(fn, { local: true });
  const forwards = [];
  const portForward = async (target, port) => {
    const localPort = await freePort();
    const child = spawn('kubectl', ['-n', ns, 'port-forward', target, `${localPort}:${port}`], {
      stdio: 'ignore',
    });
    forwards.push(child);
    for (let i = 0; i < 60; i++) {
      const ok = await new Promise((r) => {
        const s = net.connect(localPort, '127.0.0.1', () => {
          s.destroy();
          r(true);
        });
        s.once('error', () => r(false));
      });
      if (ok) return `127.0.0.1:${localPort}`;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`kubectl port-forward ${target} did not listen`);
  };
  const assets = opts.assets ? ['--assets', opts.assets] : [];
  say(`contrast e2e-cluster${opts.dryRun ? ' (dry run)' : ''}: platform ${opts.platform}, namespace ${ns}`);
  try {
    const runtime = await step(
      'the runtime objects (contrast runtime)',
      [`contrast runtime --platform ${opts.platform} ${assets.join(' ')} > runtime.yml`],
      local(async () => {
        const text = await contrast(['runtime', '--platform', opts.platform, ...assets]);
        writeFileSync(path.join(ws, 'runtime.yml'), text);
        const { problems, runtimeClass } = validateRuntime(loadResources([{ file: 'runtime.yml', text }]));
        if (problems.length > 0) throw new Error(problems.join('; '));
        say(`  RuntimeClass ${runtimeClass}; every image pinned by a real digest`);
        return { runtimeClass, text };
      }),
    );
    await step(
      'install the runtime',
      [
        'kubectl apply -f runtime.yml',
        'kubectl rollout status daemonset/<each DaemonSet of runtime.yml> --timeout=15m',
      ],
      async () => {
        await kubectl(['apply', '-f', path.join(ws, 'runtime.yml')]);
        for (const { obj } of loadResources([{ file: 'runtime.yml', text: runtime.text }])) {
          if (obj.kind !== 'DaemonSet') continue;
          await kubectl([
            '-n',
            obj.metadata.namespace ?? 'default',
            'rollout',
            'status',
            `daemonset/${obj.metadata.name}`,
            '--timeout=15m',
          ]);
        }
      },
    );
    await step(
      `contrast generate examples/shop (Coordinator: ${COORDINATOR_REPLICAS} replicas, ConfigMap store)`,
      [
        `cp examples/shop/*.yml resources/  (namespace shop -> ${ns}; coordinator replicas: ${COORDINATOR_REPLICAS})`,
        `contrast generate --reference-values ${opts.platform} ${assets.join(' ')} resources/`,
      ],
      local(async () => {
        copyShop(resourcesDir, {
          edit: (source, f) => {
            const text = source
              .replaceAll('namespace: shop', `namespace: ${ns}`)
              .replaceAll('.shop.svc.', `.${ns}.svc.`);
            if (f !== 'coordinator.yml') return text;
            const docs = text.split(/^---\n/m).map((d) => {
              const doc = parseDocument(d);
              if (doc.get('kind') === 'StatefulSet') doc.setIn(['spec', 'replicas'], COORDINATOR_REPLICAS);
              return doc.toString();
            });
            return docs.join('---\n');
          },
        });
        for (const l of (
          await contrast(['generate', '--reference-values', opts.platform, ...assets, 'resources/'])
        )
          .trim()
          .split('\n')) {
          say(`    ${l}`);
        }
        const resources = loadResources(readYamlFiles(ws, 'resources'));
        const manifest = JSON.parse(readFileSync(path.join(ws, 'manifest.json'), 'utf8'));
        const problems = validateResources(resources, manifest, { runtimeClass: runtime.runtimeClass });
        if (problems.length > 0) throw new Error(problems.join('; '));
        say(
          `  ${resources.filter((r) => podTemplateOf(r.obj)).length} workloads: RuntimeClass ${runtime.runtimeClass}, initdata, images pinned, policies = manifest; ` +
            `Coordinator StatefulSet x${COORDINATOR_REPLICAS} on the ConfigMap store with its RBAC and Service`,
        );
      }),
    );
    await step(
      'deploy',
      [`kubectl create namespace ${ns}`, `kubectl -n ${ns} apply -f resources/`],
      async () => {
        await kubectl(['create', 'namespace', ns]);
        await kubectl(['-n', ns, 'apply', '-f', resourcesDir]);
      },
    );
    let api;
    await step(
      `the ${COORDINATOR_REPLICAS} Coordinators start`,
      [
        `kubectl -n ${ns} rollout status statefulset/coordinator --timeout=15m`,
        `kubectl -n ${ns} port-forward svc/coordinator <port>:1314`,
      ],
      async () => {
        // Not ready until a manifest is set (readiness = active): wait for the pods to run.
        await kubectl([
          '-n',
          ns,
          'wait',
          '--for=jsonpath={.status.replicas}=3',
          'statefulset/coordinator',
          '--timeout=15m',
        ]);
        await kubectl([
          '-n',
          ns,
          'wait',
          '--for=jsonpath={.status.phase}=Running',
          'pod',
          '-l',
          'app.kubernetes.io/name=coordinator',
          '--timeout=15m',
        ]);
        api = await portForward('svc/coordinator', 1314);
      },
    );
    await step('contrast set', ['contrast set -c <forwarded> resources/'], () =>
      contrast(['set', '-c', api, 'resources/']),
    );
    await step('contrast verify', ['contrast verify -c <forwarded>'], () => contrast(['verify', '-c', api]));
    await step(
      'every workload ready: initializers got their certificates',
      [
        `kubectl -n ${ns} rollout status statefulset/coordinator deployment/api deployment/web statefulset/db --timeout=15m`,
        `kubectl -n ${ns} wait --for=condition=complete job/migrate --timeout=15m`,
      ],
      async () => {
        for (const w of ['statefulset/coordinator', 'deployment/api', 'deployment/web', 'statefulset/db']) {
          await kubectl(['-n', ns, 'rollout', 'status', w, '--timeout=15m']);
        }
        await kubectl(['-n', ns, 'wait', '--for=condition=complete', 'job/migrate', '--timeout=15m']);
      },
    );
    await step(
      'web reaches api through the mesh',
      [`kubectl -n ${ns} port-forward deployment/web <port>:8080`, 'GET /api/products'],
      async () => {
        const web = await portForward('deployment/web', 8080);
        const res = await fetch(`http://${web}/api/products`);
        const list = await res.json();
        if (!res.ok || !Array.isArray(list) || list.length === 0)
          throw new Error(`web answered ${res.status}`);
      },
    );
    await step(
      'a Coordinator pod is killed and recovers from a peer',
      [
        `kubectl -n ${ns} delete pod coordinator-1 --grace-period=0 --force`,
        `kubectl -n ${ns} wait --for=condition=Ready pod/coordinator-1 --timeout=10m   (Ready = active: recovered from a peer)`,
        'contrast verify -c <forwarded>',
      ],
      async () => {
        const uid = (
          await kubectl(['-n', ns, 'get', 'pod', 'coordinator-1', '-o', 'jsonpath={.metadata.uid}'])
        ).trim();
        await kubectl(['-n', ns, 'delete', 'pod', 'coordinator-1', '--grace-period=0', '--force']);
        for (let i = 0; i < 600; i++) {
          const r = await exec('kubectl', [
            '-n',
            ns,
            'get',
            'pod',
            'coordinator-1',
            '-o',
            'jsonpath={.metadata.uid}',
          ]);
          if (r.code === 0 && r.out.trim() && r.out.trim() !== uid) break;
          await new Promise((res) => setTimeout(res, 1000));
        }
        await kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/coordinator-1', '--timeout=10m']);
        await contrast(['verify', '-c', api]);
      },
    );
  } catch (e) {
    failure = e;
  } finally {
    for (const f of forwards) f.kill();
    await step(
      'clean up',
      [`kubectl delete namespace ${ns} --wait`, 'kubectl delete -f runtime.yml'],
      async () => {
        await exec('kubectl', ['delete', 'namespace', ns, '--wait', '--ignore-not-found']);
        await exec('kubectl', ['delete', '-f', path.join(ws, 'runtime.yml'), '--ignore-not-found']);
      },
    ).catch((e) => {
      failure ??= e;
    });
    rmSync(ws, { recursive: true, force: true });
  }
  if (failure) throw failure;
  say(
    opts.dryRun
      ? `\ne2e-cluster (dry run): the local steps passed; ${planned.length} cluster steps printed, not run (${elapsed()} s)`
      : `\ne2e-cluster: every step passed (${elapsed()} s)`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runMain('e2e-cluster', main);
}
