#!/usr/bin/env node
import { spawn } from 'node:child_process';
// bash tools/run e2e-containers [--break image-swap|no-initializer|kill-coordinator] [--tee snp|tdx]
//
// The generated deployment in real containers (tools/e2e/README.md): the images built from this
// checkout and pushed to a docker-registry on 127.0.0.1, examples/shop (Coordinator, api, web)
// generated for the simulator platform with those images, run with podman as pods on a network
// of the run's own, `contrast set` and `contrast verify` against the Coordinator container, the
// initializers' certificates, web -> api through the mesh containers, a client without a mesh
// certificate refused, the Coordinator killed, restarted and recovered, a new pod served by it;
// then everything torn down and checked gone. Each step prints its name and time; the first
// failure ends the run with exit 1 naming the step. --break makes one of the three failures the
// run must detect (exit 1 naming the step where it was caught).
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { stringify } from 'yaml';
import { buildImages, pushImage } from '../images/build.mjs';
import { cacheDir, defaultBase } from '../images/cli.mjs';
import { startRegistry } from '../images/registry.mjs';
import { buildPauseImage } from './pause.mjs';
import {
  admitContainer,
  BREAKS,
  breakResources,
  containerRunArgs,
  loadResources,
  planPods,
  podCreateArgs,
  podmanNames,
  podmanRef,
  SERVICE_MESH,
  simulatedTee,
} from './plan.mjs';
import { podman, podmanOk, teardown } from './podman.mjs';
import {
  cli,
  copyShop,
  elapsed,
  freePort,
  newRun,
  readYamlFiles,
  root,
  runMain,
  StepFailed,
  say,
  step,
  Usage,
} from './steps.mjs';

/** The shop's parts that run here: postgres (db, migrate) has no image built from this repository. */
const SHOP_FILES = ['coordinator.yml', 'api.yml', 'web.yml'];
const PAUSE_NAME = 'pause';
const PAUSE_TAG = '3.6';

const USAGE = `usage: bash tools/run e2e-containers [--break ${BREAKS.join('|')}] [--tee snp|tdx]`;

function parseArgs(argv) {
  const opts = { tee: 'tdx' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => inline ?? argv[++i];
    if (flag === '--break') opts.break = value();
    else if (flag === '--tee') opts.tee = value();
    else throw new Usage(`unknown argument ${argv[i]}\n${USAGE}`);
  }
  if (opts.break !== undefined && !BREAKS.includes(opts.break)) {
    throw new Usage(`--break ${opts.break}: expected one of ${BREAKS.join(', ')}`);
  }
  if (!['snp', 'tdx'].includes(opts.tee)) throw new Usage(`--tee ${opts.tee}: expected snp or tdx`);
  return opts;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` (truthy result = done) every `everyMs` until `timeoutMs`; throws `what` on timeout. */
async function waitFor(what, check, { timeoutMs, everyMs = 1000 }) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const r = await check();
      if (r) return r;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last: ${last.message})` : ''}`);
}

/** Runs the built CLI in the workspace; resolves { code, out } (stdout + stderr), printing it indented. */
function contrast(ws, args, env = {}) {
  return new Promise((resolve, reject) => {
    say(`  $ contrast ${args.join(' ')}`);
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: ws,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (d) => {
      out += d;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('close', (code) => {
      for (const l of out.trimEnd().split('\n')) if (l) say(`    ${l}`);
      resolve({ code, out });
    });
  });
}

async function contrastOk(ws, args, env) {
  const r = await contrast(ws, args, env);
  if (r.code !== 0) throw new Error(`contrast ${args[0]} exited ${r.code}`);
  return r.out;
}

/** The container's logs, last lines, for a failure message. */
async function logsOf(name, lines = 15) {
  const r = await podman(['logs', '--tail', String(lines), name], { timeoutMs: 30_000 });
  return (r.stdout + r.stderr)
    .trim()
    .split('\n')
    .map((l) => `      | ${l}`)
    .join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { id: run, name: prefix, ws } = newRun();
  const label = `contrast-e2e=${run}`;
  const simulatorDir = path.join(ws, 'simulator');
  mkdirSync(simulatorDir, { recursive: true });
  // The Coordinator (uid 65532) and the initializers (root) register their simulated roots here.
  chmodSync(simulatorDir, 0o777);
  const cache = path.join(cacheDir(), 'e2e');
  say(`contrast e2e-containers: run ${run}${opts.break ? `, --break ${opts.break}` : ''}; workspace ${ws}`);
  let registry;
  let failure;
  try {
    await step('preflight', async () => {
      if (process.getuid?.() !== 0) throw new Error('run as root (podman with runc, as CI does)');
      for (const [bin, pkg] of [
        ['podman', 'podman'],
        ['skopeo', 'skopeo'],
        ['runc', 'runc'],
        ['jq', 'jq'],
        ['catatonit', 'catatonit'],
        ['dnsmasq', 'dnsmasq-base'],
      ]) {
        const found = process.env.PATH.split(':').some((d) => existsSync(path.join(d, bin)));
        if (!found)
          throw new Error(
            `${bin} is missing (Debian package ${pkg}; bash tools/run e2e-containers installs it)`,
          );
      }
      if (!existsSync('/usr/lib/cni/dnsname')) {
        throw new Error(
          'the CNI dnsname plugin is missing (golang-github-containernetworking-plugin-dnsname): the network aliases need it',
        );
      }
      if (!existsSync(cli)) throw new Error(`${path.relative(root, cli)} is missing: build the CLI first`);
    });

    const built = await step('build the images (content-cached)', async () => {
      const outDir = path.join(cache, 'images');
      const results = buildImages({ outDir, base: defaultBase });
      const pause = buildPauseImage(path.join(outDir, 'oci'), PAUSE_NAME);
      for (const r of [...results, pause]) say(`  ${r.name}@${r.digest}`);
      return { outDir, images: [...results, { ...pause, version: PAUSE_TAG }] };
    });

    registry = await step('start a docker-registry on 127.0.0.1 and push', async () => {
      mkdirSync(path.join(cache, 'registry'), { recursive: true });
      const reg = await startRegistry({ dataDir: path.join(cache, 'registry') });
      say(`  registry ${reg.host} (pid ${reg.pid})`);
      const prefixRef = `${reg.host}/contrast`;
      const references = {};
      for (const img of built.images) {
        references[img.name] = pushImage(
          path.join(built.outDir, 'oci'),
          img.name,
          img.digest,
          prefixRef,
          img.version,
        );
        say(`  ${references[img.name]}`);
      }
      return {
        ...reg,
        prefix: prefixRef,
        references,
        versions: Object.fromEntries(built.images.map((i) => [i.name, i.version])),
      };
    });

    const resourcesDir = path.join(ws, 'resources');
    await step('contrast generate examples/shop for Simulated-' + opts.tee.toUpperCase(), async () => {
      copyShop(resourcesDir, { files: SHOP_FILES });
      // The injected images (CONTRAST_IMAGES), the workloads' images (replacements) and the pause
      // image (genpolicy settings: cluster_config.pause_container_image) all from the registry.
      writeFileSync(
        path.join(ws, 'images.json'),
        `${JSON.stringify({ references: registry.references }, null, 2)}\n`,
      );
      const replacements = Object.entries(registry.references)
        .filter(([name]) => name.startsWith('examples/'))
        .map(([name, ref]) => `ghcr.io/contrast-cc/${name}:${registry.versions[name]}=${ref}`);
      writeFileSync(path.join(ws, 'image-replacements.txt'), `${replacements.join('\n')}\n`);
      const { DEFAULT_SETTINGS } = await import('@contrast-cc/policy');
      const settings = structuredClone(DEFAULT_SETTINGS);
      settings.cluster_config.pause_container_image = `${registry.prefix}/${PAUSE_NAME}:${PAUSE_TAG}`;
      writeFileSync(path.join(ws, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
      await contrastOk(
        ws,
        [
          'generate',
          '--reference-values',
          `Simulated-${opts.tee.toUpperCase()}`,
          '--settings',
          'settings.json',
          '--image-replacements',
          'image-replacements.txt',
          'resources/',
        ],
        { CONTRAST_IMAGES: 'images.json', CONTRAST_CACHE_DIR: path.join(ws, 'cache') },
      );
      for (const f of SHOP_FILES) {
        const text = readFileSync(path.join(resourcesDir, f), 'utf8');
        const images = [...text.matchAll(/^\s*image:\s*(\S+)/gm)].map((m) => m[1]);
        const foreign = images.filter(
          (i) => !i.startsWith(`${registry.prefix}/`) || !/@sha256:[0-9a-f]{64}$/.test(i),
        );
        if (foreign.length > 0)
          throw new Error(`${f}: images not pinned to the run's registry: ${foreign.join(', ')}`);
      }
    });

    const files = () => readYamlFiles(ws, 'resources');

    if (opts.break === 'image-swap' || opts.break === 'no-initializer') {
      await step(`break the deployment: ${opts.break}`, async () => {
        const resources = loadResources(files());
        say(`  ${breakResources(resources, opts.break)}`);
        const byFile = new Map();
        for (const r of resources) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r.obj]);
        for (const [file, objs] of byFile) {
          writeFileSync(path.join(ws, file), objs.map((o) => stringify(o)).join('---\n'));
        }
      });
    }

    const pods = await step('translate the patched YAML into pods', async () => {
      const planned = simulatedTee(planPods(loadResources(files())), { tee: opts.tee, deadlineSeconds: 60 });
      for (const p of planned) {
        const cs = [
          ...p.initContainers.map((c) => `${c.name}(${c.kind})`),
          ...p.containers.map((c) => c.name),
        ];
        say(
          `  pod ${p.namespace}/${p.name}: ${cs.join(', ')}; aliases ${p.aliases.filter((a) => !a.includes('.svc')).join(', ')}`,
        );
      }
      return planned;
    });

    const network = `${prefix}-net`;
    await step('create the network and pull the images', async () => {
      await podmanOk(['network', 'create', '--label', label, network]);
      const refs = new Set([registry.references[PAUSE_NAME]]);
      for (const p of pods) for (const c of [...p.initContainers, ...p.containers]) refs.add(c.image);
      for (const ref of refs) {
        await podmanOk(['pull', '--quiet', '--tls-verify=false', podmanRef(ref)], { timeoutMs: 600_000 });
      }
      say(`  ${refs.size} images pulled from ${registry.host}`);
    });

    const publish = new Map();
    const startPod = async (pod) => {
      const names = podmanNames(prefix, pod);
      const ports = new Map();
      if (pod.replica === 0 || pod.role === 'coordinator') {
        for (const c of pod.containers) for (const p of c.ports) ports.set(p, await freePort());
      }
      if (pod.role === 'coordinator') ports.set(9102, ports.get(9102) ?? (await freePort()));
      publish.set(pod.name, ports);
      await podmanOk([
        ...podCreateArgs(prefix, pod, {
          network,
          label,
          publish: ports,
          infraImage: podmanRef(registry.references[PAUSE_NAME]),
        }),
      ]);
      for (const v of pod.volumes)
        await podmanOk(['volume', 'create', '--label', label, names.volume(v.name)]);
      if (pod.initContainers.some((c) => c.store) || pod.containers.some((c) => c.store)) {
        await podmanOk(['volume', 'create', '--label', label, names.store]);
      }
      const started = new Set();
      for (const c of [...pod.initContainers, ...pod.containers]) {
        // The Kata agent's part (what it can check without a pod VM): refuse what the policy does not allow.
        const actual = await podmanOk([
          'image',
          'inspect',
          '--format',
          '{{.Digest}}',
          podmanRef(c.image),
        ]).catch(() => 'an image that is not there');
        const admitted = admitContainer(pod, c, started, actual);
        if (!admitted.ok) {
          throw new Error(
            `the policy refuses container ${c.name} of ${pod.namespace}/${pod.name}: ${admitted.reason}`,
          );
        }
        const name = names.container(c);
        const args = containerRunArgs(
          prefix,
          pod,
          { ...c, image: podmanRef(c.image) },
          { label, simulatorDir },
        );
        await podmanOk(args);
        started.add(c.name);
        if (c.kind === 'init') {
          const r = await podman(['wait', name], { timeoutMs: 180_000 });
          const code = r.stdout.trim();
          if (code !== '0') {
            throw new Error(
              `init container ${c.name} of ${pod.name} exited ${code || '(timeout)'}:\n${await logsOf(name)}`,
            );
          }
        } else if (c.kind === 'sidecar' && c.startupProbe) {
          const p = c.startupProbe;
          await sleep(p.initialDelaySeconds * 1000);
          await waitFor(
            `the startup probe (${p.command.join(' ')}) of ${c.name} in ${pod.name}`,
            async () => (await podman(['exec', name, ...p.command], { timeoutMs: 30_000 })).code === 0,
            { timeoutMs: Math.max(120_000, p.periodSeconds * p.failureThreshold * 1000), everyMs: 1000 },
          ).catch(async (e) => {
            throw new Error(`${e.message}\n${await logsOf(name)}`);
          });
        }
      }
      // The app containers must stay up (an app that cannot read what the initializer wrote exits).
      await sleep(2000);
      for (const c of pod.containers) {
        const state = await podmanOk([
          'inspect',
          '--format',
          '{{.State.Status}} {{.State.ExitCode}}',
          names.container(c),
        ]);
        if (!state.startsWith('running')) {
          throw new Error(
            `container ${c.name} of ${pod.name} is ${state}:\n${await logsOf(names.container(c))}`,
          );
        }
      }
      return names;
    };

    const coordinatorPod = pods.find((p) => p.role === 'coordinator');
    if (!coordinatorPod) throw new StepFailed('translate the patched YAML into pods', 'no Coordinator pod');
    const coordinatorName = podmanNames(prefix, coordinatorPod).container(coordinatorPod.containers[0]);
    const coordinatorReady = async (what) => {
      const metrics = publish.get(coordinatorPod.name).get(9102);
      await waitFor(
        what,
        async () => {
          const state = await podmanOk(['inspect', '--format', '{{.State.Status}}', coordinatorName]);
          if (state !== 'running')
            throw new Error(`the Coordinator container is ${state}:\n${await logsOf(coordinatorName)}`);
          return (await fetch(`http://127.0.0.1:${metrics}/probe/startup`)).ok;
        },
        { timeoutMs: 120_000 },
      );
    };
    const api = () => `127.0.0.1:${publish.get(coordinatorPod.name).get(1314)}`;
    const cliEnv = { CONTRAST_SIMULATOR_DIR: simulatorDir };

    await step('start the Coordinator pod', async () => {
      await startPod(coordinatorPod);
      await coordinatorReady('the Coordinator answering /probe/startup');
      say(
        `  API on ${api()} (published), reachable in the network as ${coordinatorPod.aliases.slice(0, 4).join(', ')}`,
      );
    });

    await step('contrast set', () =>
      contrastOk(ws, ['set', '--insecure', '-c', api(), 'resources/'], cliEnv),
    );
    await step('contrast verify', () => contrastOk(ws, ['verify', '--insecure', '-c', api()], cliEnv));

    if (opts.break === 'kill-coordinator') {
      await step('kill the Coordinator container (and do not recover it)', () =>
        podmanOk(['kill', coordinatorName]),
      );
    }

    const workloads = pods.filter((p) => p.role !== 'coordinator');
    const first = workloads.filter((p) => p.replica === 0);
    const later = workloads.filter((p) => p.replica > 0);
    const meshCa = () => readFileSync(path.join(ws, 'verify', 'mesh-ca.pem'), 'utf8');
    const checkCertificate = async (pod) => {
      const names = podmanNames(prefix, pod);
      const mesh = pod.initContainers.find((c) => c.name === SERVICE_MESH) ?? pod.containers[0];
      const chain = await podmanOk([
        'exec',
        names.container(mesh),
        'cat',
        '/contrast/tls-config/certChain.pem',
      ]);
      const leaf = new X509Certificate(chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25));
      const ca = new X509Certificate(meshCa());
      if (!leaf.checkIssued(ca) && !chainVerifies(chain, ca)) {
        throw new Error(`${pod.name}: the mesh certificate is not issued under the Coordinator's mesh CA`);
      }
      say(
        `  ${pod.namespace}/${pod.name}: mesh certificate ${leaf.subject.replace(/\n/g, ', ')}, under the mesh CA of contrast verify`,
      );
    };

    await step(
      `start the workload pods (${first.map((p) => p.name).join(', ')}): initializers get certificates`,
      async () => {
        for (const pod of first) {
          await startPod(pod);
          await checkCertificate(pod);
        }
      },
    );

    const webPod = first.find((p) => p.workload.name === 'web');
    const apiPod = first.find((p) => p.workload.name === 'api');
    await step('web reaches api through the mesh containers', async () => {
      // web's 8080 is "#true" (plain, passed through); web calls api at 127.137.0.1:8081, which
      // only its mesh container's egress listener serves, over mTLS to api's mesh container.
      const port = publish.get(webPod.name).get(8080);
      const list = await waitFor(
        `web at 127.0.0.1:${port} answering /api/products`,
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/api/products`, {
            signal: AbortSignal.timeout(20_000),
          });
          const body = await res.text();
          if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.slice(0, 200)}`);
          return JSON.parse(body);
        },
        { timeoutMs: 60_000, everyMs: 2000 },
      );
      if (!Array.isArray(list) || list.length === 0) throw new Error(`web answered ${JSON.stringify(list)}`);
      say(
        `  http://127.0.0.1:${port}/api/products (web) -> ${list.length} products from api, through web's and api's mesh containers (mTLS)`,
      );
    });

    await step('a client without a mesh certificate is refused by api', async () => {
      const port = publish.get(apiPod.name).get(8081);
      const refused = await httpsGet(port, '/products', { ca: meshCa() }).then(
        (b) => `answered: ${b.slice(0, 100)}`,
        (e) => e,
      );
      if (!(refused instanceof Error)) throw new Error(`api ${refused} (expected a refused handshake)`);
      say(`  without a client certificate: ${refused.message}`);
      // The control: the same request with web's mesh certificate is served.
      const names = podmanNames(prefix, webPod);
      const mesh = names.container(webPod.initContainers.find((c) => c.name === SERVICE_MESH));
      const cert = await podmanOk(['exec', mesh, 'cat', '/contrast/tls-config/certChain.pem']);
      const key = await podmanOk(['exec', mesh, 'cat', '/contrast/tls-config/key.pem']);
      const body = await httpsGet(port, '/products', { ca: meshCa(), cert, key });
      say(`  with web's mesh certificate: ${JSON.parse(body).length} products`);
    });

    await step('kill the Coordinator, restart it, contrast recover', async () => {
      await podmanOk(['kill', coordinatorName]);
      await podmanOk(['start', coordinatorName]);
      await coordinatorReady('the restarted Coordinator answering /probe/startup');
      const stale = await contrast(ws, ['verify', '--insecure', '-c', api()], cliEnv);
      if (stale.code === 0) throw new Error('the restarted Coordinator verified without recovery');
      await contrastOk(ws, ['recover', '--insecure', '-c', api()], cliEnv);
      await contrastOk(ws, ['verify', '--insecure', '-c', api()], cliEnv);
    });

    if (later.length > 0) {
      await step(
        `the recovered Coordinator serves new pods (${later.map((p) => p.name).join(', ')})`,
        async () => {
          for (const pod of later) {
            await startPod(pod);
            await checkCertificate(pod);
          }
        },
      );
    }
  } catch (e) {
    failure = e;
    // What the containers said, for the failure.
    const r = await podman([
      'ps',
      '--all',
      '--filter',
      `label=${label}`,
      '--format',
      '{{.Names}} {{.Status}}',
    ]);
    for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
      const [name, ...status] = line.split(' ');
      if (name.endsWith('-infra')) continue;
      say(`\n  container ${name} (${status.join(' ')}), last lines:\n${await logsOf(name, 12)}`);
    }
  } finally {
    await step('tear down and check nothing is left', async () => {
      const { left, errors } = await teardown(label, registry?.host);
      await registry?.stop();
      rmSync(ws, { recursive: true, force: true });
      for (const e of errors) say(`  ${e}`);
      const remaining = Object.entries(left).filter(([, v]) => v.length > 0);
      if (remaining.length > 0) {
        throw new Error(`still there: ${remaining.map(([k, v]) => `${k} ${v.join(', ')}`).join('; ')}`);
      }
      if (registry) {
        const gone = await fetch(`http://${registry.host}/v2/`).then(
          () => false,
          () => true,
        );
        if (!gone) throw new Error(`the registry on ${registry.host} still answers`);
      }
      say(`  no container, pod, volume or network labelled ${label} left; registry stopped; ${ws} removed`);
    }).catch((e) => {
      failure ??= e;
    });
  }
  if (failure) throw failure;
  say(`\ne2e-containers: every step passed (${elapsed()} s)`);
}

function chainVerifies(chainPem, ca) {
  const certs = chainPem.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((s) => s.includes('BEGIN'));
  const parsed = certs.map((c) => new X509Certificate(c));
  const top = parsed.at(-1);
  return (
    parsed.every((c, i) => i === parsed.length - 1 || c.verify(parsed[i + 1].publicKey)) &&
    top.checkIssued(ca) &&
    top.verify(ca.publicKey)
  );
}

/** GET https://127.0.0.1:port/path trusting `ca` (the mesh certificates name Services, not 127.0.0.1). */
function httpsGet(port, urlPath, { ca, cert, key }) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, ca, ...(cert ? { cert, key } : {}), checkServerIdentity: () => undefined },
      () => socket.write(`GET ${urlPath} HTTP/1.1\r\nhost: shop\r\nconnection: close\r\n\r\n`),
    );
    let data = '';
    socket.setEncoding('utf8');
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer within 30 s')));
    socket.on('data', (d) => {
      data += d;
    });
    socket.once('error', reject);
    socket.once('end', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d+)/.exec(head ?? '')?.[1];
      if (!status)
        return reject(
          new Error(`the connection closed without an HTTP answer${data ? '' : ' (nothing received)'}`),
        );
      if (status !== '200') return reject(new Error(`HTTP ${status}: ${rest.join('').slice(0, 200)}`));
      const body = rest.join('\r\n\r\n');
      // chunked transfer: undo it
      resolve(/transfer-encoding: chunked/i.test(head) ? dechunk(body) : body);
    });
  });
}

function dechunk(s) {
  let out = '';
  let i = 0;
  for (;;) {
    const nl = s.indexOf('\r\n', i);
    const n = Number.parseInt(s.slice(i, nl), 16);
    if (!n) return out;
    out += s.slice(nl + 2, nl + 2 + n);
    i = nl + 2 + n + 2;
  }
}

runMain('e2e-containers', main);
