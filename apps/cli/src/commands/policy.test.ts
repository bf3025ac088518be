import { createHash, generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPlatformRegistry } from '@contrast-cc/core';
import { createSimulatedTdxPlatform, createSimulatorTrust } from '@contrast-cc/platform-simulator';
import {
  decodeInitdataAnnotation,
  generatePolicy,
  type ImageFacts,
  type ImageSource,
  initdataDigest,
  loadPolicySettings,
  loadRecordedImages,
  parseInitdataToml,
} from '@contrast-cc/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parseDocument, stringify } from 'yaml';
import { runCli } from '../cli.js';
import {
  afterInjected,
  type Body,
  createRequest,
  injectedFirst,
  type PolicyContainer,
  type PolicyData,
  policyDataOf,
} from '../test-support/agent-requests.js';
import { captureIo, sharedDir, snapshot } from '../test-support/harness.js';
import { createGenerateCommand } from './generate.js';
import { COMMANDS } from './index.js';
import { createPolicyCommand } from './policy.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const shop = path.join(repoRoot, 'examples', 'shop');
const WEB_IMAGE = 'ghcr.io/contrast-cc/examples/shop-web:1.0.0';

const root = mkdtempSync(path.join(tmpdir(), 'contrast-policy-'));
const trust = createSimulatorTrust({ dir: path.join(root, 'simulator') });
const platform = createSimulatedTdxPlatform({ trust });
const registry = createPlatformRegistry([platform]);
const policyCommand = createPolicyCommand({ registry });

/** Recorded image facts; a reference pinned by digest resolves to the facts of its tag. */
class PinnedRecordedImages implements ImageSource {
  constructor(private readonly recorded: ImageSource) {}
  async resolve(ref: string): Promise<ImageFacts> {
    const at = ref.indexOf('@');
    const facts = await this.recorded.resolve(at < 0 ? ref : ref.slice(0, at));
    return at < 0 ? facts : { ...facts, reference: ref, digest: ref.slice(at + 1) };
  }
}

let ws = '';
let webDigest = '';
let webData: PolicyData;

let requestCounter = 0;
/** Writes a request file into the workspace and returns its name. */
function requestFile(content: unknown): string {
  const name = `request-${++requestCounter}.json`;
  writeFileSync(
    path.join(ws, name),
    typeof content === 'string' ? content : JSON.stringify(content, null, 2),
  );
  return name;
}

async function policy(args: string[], cwd = ws) {
  const c = captureIo(cwd);
  const code = await policyCommand.run(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

/** The 1-based line of the first line of `file` that matches `re`, after line `from`. */
function lineOf(file: string, re: RegExp, from = 0): number {
  const lines = readFileSync(path.join(ws, file), 'utf8').split('\n');
  const i = lines.findIndex((l, n) => n >= from && re.test(l));
  if (i < 0) throw new Error(`${re} not in ${file}`);
  return i + 1;
}

beforeAll(async () => {
  ws = path.join(root, 'ws');
  cpSync(shop, path.join(ws, 'deployment'), {
    recursive: true,
    filter: (s) => !s.endsWith('README.md') && !s.endsWith('image-facts.json'),
  });
  // Pin the web image by digest, as a real deployment should: the policy then binds that digest.
  const facts = JSON.parse(readFileSync(path.join(shop, 'image-facts.json'), 'utf8'));
  webDigest = facts[WEB_IMAGE].digest;
  const webFile = path.join(ws, 'deployment', 'web.yml');
  writeFileSync(webFile, readFileSync(webFile, 'utf8').replace(WEB_IMAGE, `${WEB_IMAGE}@${webDigest}`));
  writeFileSync(
    path.join(ws, 'workload-owner.pem'),
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }),
  );
  writeFileSync(
    path.join(ws, 'seedshare-owner.pem'),
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs1' }),
  );
  const images = new PinnedRecordedImages(await loadRecordedImages(path.join(shop, 'image-facts.json')));
  const c = captureIo(ws);
  // The Contrast images to inject: those the recorded facts hold (as in `contrast demo`).
  c.io.env = { CONTRAST_IMAGE_FACTS: path.join(shop, 'image-facts.json') };
  const code = await createGenerateCommand({ registry, images }).run(
    ['--reference-values', 'Simulated-TDX', 'deployment/'],
    c.io,
  );
  if (code !== 0) throw new Error(`contrast generate failed (${code}):\n${c.err()}`);
  webData = policyDataOf(webFile);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('contrast policy explain', () => {
  it('allows the request that matches the generated policy (exit 0)', async () => {
    expect(injectedFirst(webData, 'web')).toHaveLength(4);
    const req = requestFile(afterInjected(webData, 'web', createRequest(webData, 'web')));
    const r = await policy(['explain', '--request', req, 'deployment/web.yml']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Workload: Deployment/shop/web (deployment/web.yml)');
    expect(r.out).toContain(
      'CreateContainerRequest for container "web" in pod web-7c56d66754-pq9qp: ALLOWED',
    );
    // The request really is what the YAML says: pinned image, the image's entrypoint + the YAML's args.
    const body = createRequest(webData, 'web');
    expect(body.OCI.Annotations['io.kubernetes.cri.image-name']).toBe(`${WEB_IMAGE}@${webDigest}`);
    expect(body.OCI.Process.Args).toEqual([
      '/app/shop-web',
      '--listen=:8080',
      '--api=http://127.137.0.1:8081',
    ]);
  });

  it('order and presence: without the initializer, with it after the app, or without an env var of the app: DENIED, naming why', async () => {
    const web = createRequest(webData, 'web');
    const good = afterInjected(webData, 'web', web);
    const [initCreate, initStart, meshCreate, meshStart, webCreate] = good;
    const variants: Array<[string, Body[], RegExp]> = [
      [
        'without',
        [meshCreate!, meshStart!, webCreate!],
        /container "contrast-initializer" must be created and started/,
      ],
      [
        'after the app',
        [meshCreate!, meshStart!, webCreate!, initCreate!, initStart!],
        /container "contrast-initializer" must be created and started/,
      ],
    ];
    for (const [what, requests, why] of variants) {
      const r = await policy(['explain', '--request', requestFile(requests), 'deployment/web.yml']);
      expect(r.code, what).toBe(1);
      expect(r.out).toMatch(
        /CreateContainerRequest for container "contrast-service-mesh" in pod web-7c56d66754-pq9qp: DENIED/,
      );
      expect(r.out).toMatch(why);
    }
    // Every env variable the spec sets must be there: the initializer's Coordinator address.
    const init = webData.containers.find(
      (c) => c.OCI.Annotations['io.kubernetes.cri.container-name'] === 'contrast-initializer',
    ) as PolicyContainer & { env_required?: string[] };
    expect(init.env_required).toContain('COORDINATOR_HOST');
    const noVar = createRequest(webData, 'contrast-initializer', (q) => {
      q.OCI.Process.Env = q.OCI.Process.Env.filter((e: string) => !e.startsWith('COORDINATOR_HOST='));
    });
    const r = await policy([
      'explain',
      '--request',
      requestFile([{ kind: 'CreateContainerRequest', request: noVar }]),
      'deployment/web.yml',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      'env variable COORDINATOR_HOST, which the pod spec sets, is missing from the request',
    );
  });

  it('finds the workload in a whole directory by the pod name the request carries', async () => {
    const req = requestFile(afterInjected(webData, 'web', createRequest(webData, 'web')));
    const r = await policy(['explain', '--request', req, 'deployment/']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      'Workload: Deployment/shop/web (deployment/web.yml; its policy accepts pod shop/web-7c56d66754-pq9qp)',
    );
  });

  it('a changed image digest: exit 1, the image field and its YAML line', async () => {
    const other = `${WEB_IMAGE.replace(':1.0.0', '')}@sha256:${'0'.repeat(64)}`;
    const req = requestFile(
      createRequest(webData, 'web', (q) => {
        q.OCI.Annotations['io.kubernetes.cri.image-name'] = other;
        q.storages[0].source = other;
      }),
    );
    const r = await policy(['explain', '--request', req, 'deployment/web.yml']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('CreateContainerRequest for container "web" in pod web-7c56d66754-pq9qp: DENIED');
    expect(r.out).toMatch(
      /rule: +CreateContainerRequest > container_matches > image_ok > same_image \(policy line \d+\)/,
    );
    expect(r.out).toContain(`request has:  "@sha256:${'0'.repeat(64)}"`);
    expect(r.out).toContain(`policy wants: "@${webDigest}"`);
    expect(r.out).toMatch(/field: +spec\.containers\[0\]\.image\n/);
    const line = lineOf('deployment/web.yml', /^ +image: ghcr\.io\/contrast-cc\/examples\/shop-web/);
    expect(r.out).toContain(
      `source:       deployment/web.yml:${line} (spec.template.spec.containers[0].image)`,
    );
    expect(r.out).toContain('run it again');
    expect(r.out).toContain(
      `meaning:      image digest ${webDigest} expected, request has sha256:${'0'.repeat(64)}: another image than the one pinned at generate time (the image-name annotation)\n`,
    );
  });

  it('a pod spec image that is not pinned (tag only) against the pinned policy: the image field, in words', async () => {
    const req = requestFile(
      createRequest(webData, 'web', (q) => {
        q.OCI.Annotations['io.kubernetes.cri.image-name'] = WEB_IMAGE;
        q.storages[0].source = WEB_IMAGE;
      }),
    );
    const r = await policy(['explain', '--request', req, 'deployment/web.yml']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('CreateContainerRequest for container "web" in pod web-7c56d66754-pq9qp: DENIED');
    expect(r.out).toContain(
      `meaning:      image digest ${webDigest} expected, request has none: the pod spec image is not pinned (the image-name annotation names a tag only; deploy the YAML that contrast generate pinned)\n`,
    );
    expect(r.out).toMatch(/field: +spec\.containers\[0\]\.image\n/);
    const json = await policy(['explain', '--json', '--request', req, 'deployment/web.yml']);
    const result = JSON.parse(json.out).results[0];
    expect(result.field).toBe('spec.containers[0].image');
    expect(result.failure.note).toMatch(/^image digest sha256:[a-f0-9]{64} expected, request has none: /);
  });

  it('an extra env var: exit 1, names the variable and the container the env belongs to', async () => {
    const req = requestFile(
      createRequest(webData, 'web', (q) => {
        q.OCI.Process.Env.push('LD_PRELOAD=/tmp/hook.so');
      }),
    );
    const r = await policy(['explain', '--request', req, 'deployment/web.yml']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('DENIED');
    expect(r.out).toContain('env_ok');
    expect(r.out).toMatch(/request has: +"LD_PRELOAD=\/tmp\/hook\.so"\n/);
    expect(r.out).toMatch(
      /policy allows: +one of \["PATH=[^"]*","NODE_VERSION=[^"]*","HOSTNAME=\$\(host-name\)"\]\n/,
    );
    expect(r.out).toMatch(/field: +spec\.containers\[0\]\.env\n/);
    // The web container writes no env: the line is the container's, and the output says so.
    const line = lineOf('deployment/web.yml', /^ +- name: web$/);
    expect(r.out).toContain(
      `deployment/web.yml:${line} (spec.template.spec.containers[0]; the YAML does not set env`,
    );
  });

  it('a privileged container: exit 1, names the security context', async () => {
    const req = requestFile(
      createRequest(webData, 'web', (q) => {
        const all = [
          'CAP_SYS_ADMIN',
          'CAP_NET_ADMIN',
          'CAP_SYS_MODULE',
          ...q.OCI.Process.Capabilities.Bounding,
        ];
        q.OCI.Process.Capabilities = {
          Bounding: all,
          Effective: all,
          Permitted: all,
          Inheritable: [],
          Ambient: [],
        };
        q.OCI.Linux.MaskedPaths = [];
        q.OCI.Linux.ReadonlyPaths = [];
      }),
    );
    const r = await policy(['explain', '--request', req, 'deployment/web.yml']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('capabilities_ok');
    expect(r.out).toMatch(/request adds: +\["CAP_NET_ADMIN","CAP_SYS_ADMIN","CAP_SYS_MODULE"\]\n/);
    expect(r.out).toMatch(/field: +spec\.containers\[0\]\.securityContext\n/);
    expect(r.out).toContain('the YAML does not set securityContext');
  });

  it('changed args: the args line of the YAML', async () => {
    const req = requestFile(
      createRequest(webData, 'web', (q) => {
        q.OCI.Process.Args = ['/app/shop-web', '--listen=:8080', '--api=http://evil.example:80'];
      }),
    );
    const r = await policy(['explain', '--request', req, '--json', 'deployment/web.yml']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out);
    expect(out).toMatchObject({ workload: 'Deployment/shop/web', allowed: false });
    expect(out.policyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(out.results[0]).toMatchObject({
      kind: 'CreateContainerRequest',
      containerName: 'web',
      allowed: false,
      container: 'spec.containers[0]',
      field: 'spec.containers[0].args',
      source: {
        file: 'deployment/web.yml',
        line: lineOf('deployment/web.yml', /^ +args: \["--listen/),
        path: 'spec.template.spec.containers[0].args',
      },
      failure: {
        rules: ['CreateContainerRequest', 'container_matches', 'process_ok'],
        expression: 'i_process.Args == p_process.Args',
        actual: '["/app/shop-web","--listen=:8080","--api=http://evil.example:80"]',
        expected: '["/app/shop-web","--listen=:8080","--api=http://127.137.0.1:8081"]',
      },
    });
  });

  it('requests in order: an exec is checked against the container created before it', async () => {
    const mesh = createRequest(webData, 'contrast-service-mesh');
    const exec = (args: string[]) => ({
      kind: 'ExecProcessRequest',
      request: {
        container_id: mesh.container_id,
        exec_id: 'probe-1',
        process: { ...mesh.OCI.Process, Args: args, Capabilities: null, Terminal: false },
      },
    });
    const probe = requestFile([
      ...afterInjected(webData, 'contrast-service-mesh', mesh),
      exec(['test', '-f', '/ready']),
    ]);
    const ok = await policy(['explain', '-r', probe, '-w', 'shop/web', 'deployment/']);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('[3/4] CreateContainerRequest for container "contrast-service-mesh"');
    expect(ok.out).toContain('[4/4] ExecProcessRequest for container id');
    expect(ok.out).not.toContain('DENIED');

    const shell = requestFile([
      ...afterInjected(webData, 'contrast-service-mesh', mesh),
      exec(['sh', '-c', 'cat /contrast/secret']),
    ]);
    const denied = await policy(['explain', '-r', shell, '-w', 'web', 'deployment/web.yml']);
    expect(denied.code).toBe(1);
    expect(denied.out).toMatch(/\[4\/4\] ExecProcessRequest for container id [0-9a-f]{16}…: DENIED/);
    expect(denied.out).toMatch(/request has: +\["sh","-c","cat \/contrast\/secret"\]\n/);
    expect(denied.out).toMatch(/policy allows: +one of \[\["test","-f","\/ready"\]\]\n/);
    expect(denied.out).toMatch(/field: +spec\.initContainers\[1\]\.startupProbe\n/);
    const line = lineOf('deployment/web.yml', /^ +startupProbe:/);
    expect(denied.out).toContain(
      `deployment/web.yml:${line} (spec.template.spec.initContainers[1].startupProbe)`,
    );
  });

  it('reads the agent log /tmp/policy.jsonl (JSON Lines) and evaluates it in order', async () => {
    const web = createRequest(webData, 'web');
    const exec = (args: string[]) => ({
      kind: 'ExecProcessRequest',
      request: {
        container_id: web.container_id,
        exec_id: 'x',
        process: { ...web.OCI.Process, Args: args, Capabilities: null },
      },
    });
    const log = [
      ...afterInjected(webData, 'web', web),
      { kind: 'StartContainerRequest', request: { container_id: web.container_id } },
      exec(['sh', '-c', 'env']),
    ]
      .map((l) => JSON.stringify(l))
      .join('\n');
    const r = await policy(['explain', '-r', requestFile(`${log}\n`), 'deployment/']);
    expect(r.err).toBe('');
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      'Workload: Deployment/shop/web (deployment/web.yml; its policy accepts pod shop/web-7c56d66754-pq9qp)',
    );
    expect(r.out).toContain(
      '[5/7] CreateContainerRequest for container "web" in pod web-7c56d66754-pq9qp: ALLOWED',
    );
    expect(r.out).toContain('[6/7] StartContainerRequest for container id');
    expect(r.out).toMatch(/\[7\/7\] ExecProcessRequest for container id [0-9a-f]{16}…: DENIED/);
    // The web container has no exec probe: the container's line.
    expect(r.out).toMatch(/field: +spec\.containers\[0\]\.livenessProbe\n/);
  });

  it('the legacy policy annotation, in a List after another document: lines point into the List', async () => {
    const generated = parseAllDocuments(readFileSync(path.join(ws, 'deployment/web.yml'), 'utf8'));
    const deployment = generated[0]?.toJS();
    const service = generated[1]?.toJS();
    const annotations = deployment.spec.template.metadata.annotations;
    const toml = decodeInitdataAnnotation(annotations['io.katacontainers.config.hypervisor.cc_init_data']);
    const policyText = parseInitdataToml(toml).data['policy.rego'] as string;
    delete annotations['io.katacontainers.config.hypervisor.cc_init_data'];
    annotations['io.katacontainers.config.agent.policy'] = Buffer.from(policyText).toString('base64');
    const list = stringify(
      { apiVersion: 'v1', kind: 'List', items: [service, deployment] },
      { lineWidth: 0 },
    );
    const file = 'legacy/list.yml';
    mkdirSync(path.join(ws, 'legacy'), { recursive: true });
    writeFileSync(
      path.join(ws, file),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n---\n${list}`,
    );

    const shown = await policy(['show', file]);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`# Policy hash: ${createHash('sha256').update(policyText).digest('hex')}`);
    expect(shown.out).toContain('# Binding:     legacy io.katacontainers.config.agent.policy annotation');

    const req = requestFile(
      createRequest(webData, 'web', (q) => {
        q.OCI.Process.Args = ['/app/shop-web'];
      }),
    );
    const r = await policy(['explain', '-r', req, file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('(legacy policy annotation)');
    const line = lineOf(file, /^ +args:/, lineOf(file, /^ +kind: Deployment/));
    expect(r.out).toContain(
      `source:        ${file}:${line} (items[1].spec.template.spec.containers[0].args)`,
    );
  });

  it('an ExecProcessRequest without its container in the history is denied by the state check', async () => {
    const req = requestFile({ container_id: 'f'.repeat(64), exec_id: 'x', process: { Args: ['ls'] } });
    const r = await policy(['explain', '-r', req, '-t', 'ExecProcessRequest', '-w', 'web', 'deployment/']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('ExecProcessRequest for container id ffffffffffffffff…: DENIED');
  });
});

describe('contrast policy show / verify', () => {
  it('show prints the hash the manifest uses, the binding and the policy (rules + data)', async () => {
    const manifest = JSON.parse(readFileSync(path.join(ws, 'manifest.json'), 'utf8'));
    const r = await policy(['show', '--workload', 'web', 'deployment/']);
    expect(r.code).toBe(0);
    const hash = /# Policy hash: ([0-9a-f]{64})/.exec(r.out)?.[1];
    expect(hash).toBeDefined();
    expect(Object.keys(manifest.Policies)).toContain(hash);
    // The hash is that of the initdata document in the annotation.
    const tpl = parseDocument(readFileSync(path.join(ws, 'deployment/web.yml'), 'utf8')).toJS().spec.template;
    const toml = decodeInitdataAnnotation(
      tpl.metadata.annotations['io.katacontainers.config.hypervisor.cc_init_data'],
    );
    expect(hash).toBe(createHash('sha256').update(toml).digest('hex'));
    expect(r.out).toContain(`its digest ${initdataDigest(toml)}`);
    expect(r.out).toContain('package agent_policy');
    expect(r.out).toContain('\npolicy_data := {');

    const data = await policy(['show', '-w', 'Deployment/shop/web', '--data-only', 'deployment/web.yml']);
    expect(JSON.parse(data.out)).toEqual(webData);

    const all = await policy(['show', '--json', 'deployment/']);
    const list = JSON.parse(all.out) as Array<{ workload: string; policyHash: string; rules: string }>;
    expect(list.map((w) => w.policyHash).sort()).toEqual(Object.keys(manifest.Policies).sort());
    expect(list.map((w) => w.workload)).toContain('StatefulSet/shop/coordinator');
  });

  it('verify: every policy is in the manifest (exit 0); a changed resource is not (exit 1)', async () => {
    const ok = await policy(['verify', 'deployment/']);
    expect(ok.code).toBe(0);
    expect(ok.out.match(/^✔ /gm)).toHaveLength(5);

    // Another manifest without the web policy: verify names the workload.
    const manifest = JSON.parse(readFileSync(path.join(ws, 'manifest.json'), 'utf8'));
    const webHash = /# Policy hash: ([0-9a-f]{64})/.exec(
      (await policy(['show', '-w', 'web', 'deployment/'])).out,
    )?.[1];
    delete manifest.Policies[webHash as string];
    manifest.Policies['ab'.repeat(32)] = { SANs: ['old'], WorkloadSecretID: 'apps/v1/Deployment/shop/old' };
    writeFileSync(path.join(ws, 'other-manifest.json'), JSON.stringify(manifest));
    const bad = await policy(['verify', '-m', 'other-manifest.json', 'deployment/']);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(
      `✘ Deployment/shop/web (deployment/web.yml): policy ${webHash} is NOT in other-manifest.json`,
    );
    expect(bad.out).toContain(
      '⚠ other-manifest.json: policy abababababababab… (apps/v1/Deployment/shop/old) matches no workload',
    );
    const json = JSON.parse(
      (await policy(['verify', '-m', 'other-manifest.json', '--json', 'deployment/'])).out,
    );
    expect(json.ok).toBe(false);
    expect(
      json.workloads
        .filter((w: { listed: boolean }) => !w.listed)
        .map((w: { workload: string }) => w.workload),
    ).toEqual(['Deployment/shop/web']);
  });
});

describe('contrast policy: bad input is exit 2 and writes nothing', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    ['no subcommand', () => [], /give a subcommand: explain, show, verify/],
    ['unknown subcommand', () => ['explian'], /unknown subcommand "explian"/],
    ['no --request', () => ['explain', 'deployment/web.yml'], /--request <file> is required/],
    [
      'missing request file',
      () => ['explain', '-r', 'nope.json', 'deployment/web.yml'],
      /--request nope\.json: no such file/,
    ],
    [
      'invalid JSON',
      () => ['explain', '-r', requestFile('{\n  "OCI": {\n    "Process": }\n}'), 'deployment/web.yml'],
      /--request request-\d+\.json: OCI\.Process: not valid JSON at line 3, column 16/,
    ],
    [
      'a field of the wrong type',
      () => [
        'explain',
        '-r',
        requestFile(
          createRequest(webData, 'web', (q) => {
            q.OCI.Process.Args = 'sh -c id';
          }),
        ),
        'deployment/web.yml',
      ],
      /--request request-\d+\.json: OCI\.Process\.Args: expected a list/,
    ],
    [
      'a wrong type inside a step array',
      () => [
        'explain',
        '-r',
        requestFile([{ kind: 'ExecProcessRequest', request: { process: { User: { UID: '0' } } } }]),
        'deployment/',
      ],
      /--request request-\d+\.json: \[0\]\.request\.process\.User\.UID: expected int, got "0"/,
    ],
    [
      'a kind that is no request type',
      () => ['explain', '-r', requestFile([{ kind: 'run-everything', request: {} }]), 'deployment/'],
      /\[0\]\.kind: "run-everything" is not a request type \(such as CreateContainerRequest,/,
    ],
    [
      'a request type the policy has no rule for',
      () => [
        'explain',
        '-r',
        requestFile([{ kind: 'RunEverythingRequest', request: {} }]),
        '-w',
        'web',
        'deployment/',
      ],
      /\[0\]: the policy of Deployment\/shop\/web has no rule for RunEverythingRequest \(it has: .*CreateContainerRequest/,
    ],
    [
      'a broken line in a policy.jsonl log',
      () => [
        'explain',
        '-r',
        requestFile(
          `${JSON.stringify({ kind: 'CreateContainerRequest', request: createRequest(webData, 'web') })}\n{"kind":"ExecProcessRequest","request":{"process":{"Args":["sh",]}}}\n`,
        ),
        'deployment/',
      ],
      /--request request-\d+\.json: line 2: request\.process\.Args\[1\]: not valid JSON at column 65/,
    ],
    [
      'a body of another request type',
      () => ['explain', '-r', requestFile({ container_id: 'x', process: {} }), 'deployment/web.yml'],
      /: process: is not a field of CreateContainerRequest \(its fields: container_id, exec_id, .*is --request-type/,
    ],
    [
      'missing resource file',
      () => ['explain', '-r', requestFile({ OCI: {} }), 'nothing.yml'],
      /nothing\.yml/,
    ],
    [
      'resources without a policy annotation',
      () => ['explain', '-r', requestFile({ OCI: {} }), 'raw/web.yml'],
      /raw\/web\.yml: documents\[0\]\.spec\.template\.spec\.runtimeClassName: not patched yet .*run "contrast generate" first/,
    ],
    [
      'several workloads and a request naming no pod',
      () => ['explain', '-r', requestFile({ OCI: {} }), 'deployment/'],
      /5 workloads: choose one with --workload <name>: .*Deployment\/shop\/web \(deployment\/web\.yml\)/,
    ],
    [
      'an unknown workload',
      () => ['show', '-w', 'shop/nope', 'deployment/'],
      /--workload shop\/nope: no such workload; there are: /,
    ],
    ['an unknown flag', () => ['show', '--frobnicate', 'deployment/'], /Unknown option '--frobnicate'/],
    ['no resources', () => ['show'], /give the resource file\(s\) or directory/],
    [
      'missing manifest',
      () => ['verify', '-m', 'nope.json', 'deployment/'],
      /--manifest nope\.json: no such file/,
    ],
  ];

  it.each(cases)('%s', async (_name, args, message) => {
    // An ungenerated copy of the example, for the "run contrast generate first" case.
    cpSync(path.join(shop, 'web.yml'), path.join(ws, 'raw', 'web.yml'), { recursive: true });
    const a = args();
    const before = snapshot(ws);
    const r = await policy(a);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/^contrast policy( \w+)?: /);
    expect(snapshot(ws)).toEqual(before);
  });
});

describe('contrast policy in the CLI', () => {
  it('is listed and has help a newcomer can follow, with examples', async () => {
    const c = captureIo(ws);
    expect(await runCli(['--help'], c.io, COMMANDS)).toBe(0);
    expect(c.out()).toMatch(/\n {2}policy +explain why/);
    const h = captureIo(ws);
    expect(await runCli(['policy', 'explain', '--help'], h.io, COMMANDS)).toBe(0);
    for (const text of [
      'contrast policy explain --request',
      'is blocked by policy',
      'Examples:',
      'Exit codes:',
    ]) {
      expect(h.out()).toContain(text);
    }
  });
});

// Kata's own policy test cases: their request files, as they are, against a Contrast resource that
// carries the policy generated from the case's pod.yaml. The CLI must reach the same decisions.
const shared = sharedDir('Kata policy conformance requests (contrast policy explain)');
const kataDir = shared ? path.join(shared, 'conformance', 'kata-policy') : undefined;
const hasKata = kataDir !== undefined && existsSync(path.join(kataDir, 'index.json'));
if (shared && !hasKata)
  console.warn(`skipping Kata request cases: ${shared}/conformance/kata-policy not found`);

describe.skipIf(!hasKata)('contrast policy explain on Kata conformance requests', () => {
  const dir = kataDir as string;
  const fixture = path.join(repoRoot, 'packages/policy/src/images/__fixtures__/conformance-images.json');

  /** A Contrast resource file (runtime class of our platform) with the case's generated policy. */
  async function resourceFor(caseName: string): Promise<string> {
    const caseDir = path.join(dir, 'testdata', caseName);
    const doc = parseDocument(readFileSync(path.join(caseDir, 'pod.yaml'), 'utf8'));
    const obj = doc.toJS();
    const templatePath = obj.kind === 'Pod' ? [] : ['spec', 'template'];
    const pod =
      obj.kind === 'Pod'
        ? obj
        : {
            ...obj.spec.template,
            metadata: {
              ...obj.spec.template.metadata,
              name: obj.metadata.name,
              namespace: obj.metadata.namespace,
            },
          };
    const generated = await generatePolicy({
      pod,
      kind: obj.kind,
      images: await loadRecordedImages(fixture),
      settings: await loadPolicySettings(path.join(dir, 'settings/genpolicy-settings.json')),
      binding: 'initdata',
      // Kata parity, as the conformance harness: Kata's cases omit env variables the spec sets.
      specEnvPresence: false,
    });
    doc.setIn([...templatePath, 'spec', 'runtimeClassName'], platform.runtime.runtimeClassNames[0]);
    doc.setIn(
      [...templatePath, 'metadata', 'annotations', generated.annotation.key],
      generated.annotation.value,
    );
    const file = path.join(root, 'kata', `${caseName.replaceAll('/', '-')}.yml`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, doc.toString());
    return file;
  }

  it.each(['createcontainer/generate_name', 'createcontainer/env_vars', 'state/execprocess', 'copyfile'])(
    '%s: the decisions of testcases.json',
    async (caseName) => {
      const resource = await resourceFor(caseName);
      const cases = path.join(dir, 'testdata', caseName, 'testcases.json');
      const expected = (JSON.parse(readFileSync(cases, 'utf8')) as Array<{ allowed: boolean }>).map(
        (s) => s.allowed,
      );
      const c = captureIo(ws);
      const code = await policyCommand.run(['explain', '--json', '--request', cases, resource], c.io);
      expect(c.err()).toBe('');
      const out = JSON.parse(c.out()) as { results: Array<{ allowed: boolean; message: string }> };
      expect(out.results.map((r) => r.allowed)).toEqual(expected);
      expect(code).toBe(expected.every(Boolean) ? 0 : 1);
      for (const r of out.results.filter((x) => !x.allowed)) expect(r.message).toMatch(/denied/);
    },
  );
});
