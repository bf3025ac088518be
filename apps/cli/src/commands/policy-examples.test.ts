// The committed example request sequences (examples/shop-requests/<pod>.json): the container
// requests the agent of each injected pod of examples/shop receives, in order, for the deployment
// `contrast demo` generates (the embedded example, Simulated-TDX, recorded image facts). They are
// ALLOWED by `contrast policy explain --request <file> deployment/`; without the initializer, with
// it after the app, or without an env variable the app's spec sets, they are DENIED with the reason.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPlatformRegistry } from '@contrast-cc/core';
import { createSimulatedTdxPlatform, createSimulatorTrust } from '@contrast-cc/platform-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOP_EXAMPLE } from '../demo/shop.js';
import { cliImageSource } from '../images.js';
import { type Body, type PolicyData, podRequests, policyDataOf } from '../test-support/agent-requests.js';
import { captureIo } from '../test-support/harness.js';
import { createGenerateCommand } from './generate.js';
import { createPolicyCommand } from './policy.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const requestsDir = path.join(repoRoot, 'examples', 'shop-requests');

const root = mkdtempSync(path.join(tmpdir(), 'contrast-requests-'));
const ws = path.join(root, 'ws');
const registry = createPlatformRegistry([
  createSimulatedTdxPlatform({ trust: createSimulatorTrust({ dir: path.join(root, 'simulator') }) }),
]);

/** The injected pods of examples/shop: file, a pod name its policy accepts, the app container. */
const PODS = [
  { file: 'api.yml', pod: 'api-7c56d66754-pq9qp', app: 'api' },
  { file: 'web.yml', pod: 'web-7c56d66754-pq9qp', app: 'web' },
  { file: 'db.yml', pod: 'db-0', app: 'postgres' },
  { file: 'migrate.yml', pod: 'migrate-x7k2p', app: 'migrate' },
] as const;

const data = new Map<string, PolicyData>();

beforeAll(async () => {
  // What `contrast demo` does in its workspace: the embedded example, generate on Simulated-TDX.
  mkdirSync(path.join(ws, 'deployment'), { recursive: true });
  for (const [name, text] of Object.entries(SHOP_EXAMPLE)) {
    writeFileSync(path.join(ws, name === 'image-facts.json' ? name : path.join('deployment', name)), text);
  }
  const c = captureIo(ws);
  c.io.env.CONTRAST_IMAGE_FACTS = path.join(ws, 'image-facts.json');
  const code = await createGenerateCommand({ registry, images: cliImageSource }).run(
    ['--reference-values', 'Simulated-TDX', 'deployment/'],
    c.io,
  );
  if (code !== 0) throw new Error(`contrast generate failed (${code}):\n${c.err()}`);
  for (const p of PODS) data.set(p.file, policyDataOf(path.join(ws, 'deployment', p.file)));
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function explain(requests: Body[]): Promise<{ code: number; out: string }> {
  const file = path.join(ws, `request-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(requests, null, 2));
  const c = captureIo(ws);
  const code = await createPolicyCommand({ registry }).run(
    ['explain', '--request', file, 'deployment/'],
    c.io,
  );
  return { code, out: c.out() + c.err() };
}

const nameOf = (r: Body) =>
  r.request.OCI?.Annotations?.['io.kubernetes.cri.container-name'] as string | undefined;
const idOf = (requests: Body[], name: string) =>
  requests.find((r) => nameOf(r) === name)?.request.container_id as string;
/** The Create and Start requests of container `name`. */
const stepsOf = (requests: Body[], name: string) =>
  requests.filter((r) => nameOf(r) === name || r.request.container_id === idOf(requests, name));

describe.each(PODS)('examples/shop-requests: $file', ({ file, pod, app }) => {
  const golden = path.join(requestsDir, file.replace(/\.yml$/, '.json'));
  let sequence: Body[];

  it('is the committed sequence for the deployment contrast demo generates, and ALLOWED', async () => {
    sequence = podRequests(data.get(file)!, pod);
    expect(stepsOf(sequence, 'contrast-initializer')).toHaveLength(2);
    await expect(`${JSON.stringify(sequence, null, 2)}\n`).toMatchFileSnapshot(golden);
    const r = await explain(sequence);
    expect(r.out).not.toContain('DENIED');
    expect(r.code).toBe(0);
  });

  it('without the initializer, or with it after the app: DENIED, naming the initializer', async () => {
    const init = stepsOf(sequence, 'contrast-initializer');
    const without = sequence.filter((r) => !init.includes(r));
    const after = [...without, ...init];
    for (const variant of [without, after]) {
      const r = await explain(variant);
      expect(r.code).toBe(1);
      expect(r.out).toContain('container "contrast-initializer" must be created and started in this sandbox');
    }
  });

  it('without an env variable the spec sets: DENIED, naming the variable', async () => {
    const container = data
      .get(file)!
      .containers.find((c) => c.OCI.Annotations['io.kubernetes.cri.container-name'] === app) as {
      env_required?: string[];
    };
    // The app's own variables where its spec sets any; else the initializer's (web sets none).
    const [target, variable] = container.env_required?.length
      ? [app, container.env_required[0]!]
      : ['contrast-initializer', 'COORDINATOR_HOST'];
    const tampered = structuredClone(sequence);
    const create = tampered.find((r) => nameOf(r) === target)!;
    create.request.OCI.Process.Env = (create.request.OCI.Process.Env as string[]).filter(
      (e) => !e.startsWith(`${variable}=`),
    );
    const r = await explain(tampered);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`env variable ${variable}, which the pod spec sets, is missing from the request`);
  });
});
