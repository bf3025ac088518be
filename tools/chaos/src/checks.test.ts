import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoordinatorClient, type StateResponse, verifiersForReferenceValues } from '@contrast-cc/api';
import { type RunningCoordinator, startCoordinator } from '@contrast-cc/authority/server';
import { deployment, podIssuer, registry, tempStore } from '@contrast-cc/authority/testing';
import { OUTPUT_FILES, runInitializer } from '@contrast-cc/mesh';
import type { DirectoryHistoryStore } from '@contrast-cc/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkInitializerOutput,
  type InitializerOutput,
  manifestsDigest,
  type Reference,
  StateMonitor,
} from './checks.js';

// Two independent Coordinators (in this process) with the same manifest: each has its own seed,
// so its own root CA and mesh CA. What one serves must count as a divergence against the other's.
const d = deployment(['web']);
const verifiers = verifiersForReferenceValues(registry(), d.manifestJson.ReferenceValues as never);
const running: { coordinator: RunningCoordinator; store: DirectoryHistoryStore }[] = [];
const dirs: string[] = [];
let states: StateResponse[] = [];
let refs: Reference[] = [];
let outputs: InitializerOutput[] = [];

async function coordinatorWithManifest() {
  const store = await tempStore();
  const coordinator = await startCoordinator({
    store,
    platforms: registry(),
    issuer: podIssuer(d.hashes.coordinator!),
    allowInsecure: true,
    metricsPort: null,
  });
  running.push({ coordinator, store });
  const client = await CoordinatorClient.connect({
    host: '127.0.0.1',
    port: coordinator.port,
    verifiers,
    allowInsecure: true,
  });
  const set = await client.setManifest({ manifest: d.manifest, policies: d.policies });
  const state = await client.state();
  const ref: Reference = {
    rootCa: set.root_ca,
    meshCa: set.mesh_ca,
    transition: set.transition_hash,
    manifests: manifestsDigest(state),
  };
  const outDir = await mkdtemp(path.join(tmpdir(), 'chaos-checks-'));
  dirs.push(outDir);
  await runInitializer({
    host: '127.0.0.1',
    port: coordinator.port,
    issuer: podIssuer(d.hashes.web!),
    outDir,
    deadlineMs: 60_000,
  });
  const read = (f: string) => readFile(path.join(outDir, f), 'utf8');
  const output: InitializerOutput = {
    certChain: await read(OUTPUT_FILES.certChain),
    key: await read(OUTPUT_FILES.key),
    meshCa: await read(OUTPUT_FILES.meshCa),
    rootCa: await read(OUTPUT_FILES.rootCa),
    workloadSecret: await read(OUTPUT_FILES.workloadSecret),
  };
  return { state, ref, output };
}

beforeAll(async () => {
  const [a, b] = [await coordinatorWithManifest(), await coordinatorWithManifest()];
  states = [a.state, b.state];
  refs = [a.ref, b.ref];
  outputs = [a.output, b.output];
}, 60_000);

afterAll(async () => {
  for (const r of running) {
    await r.coordinator.close();
    await r.store.close();
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('StateMonitor', () => {
  it('accepts replicas serving the reference, and a stale replica without CAs', () => {
    const m = new StateMonitor(refs[0]!, () => 0);
    m.observe('a', 0, states[0]!, () => true);
    m.observe('b', 0, states[0]!, () => true);
    m.observe('c', 0, { version: 'v1', status: 'stale', manifests: [], policies: [] }, () => true);
    expect(m.divergences).toEqual([]);
    expect(m.counts).toEqual({ samples: 3, activeSamples: 2, comparisons: 1, lagging: 0 });
  });

  it("flags another Coordinator's root CA, mesh CA and transition", () => {
    const seen: string[] = [];
    const m = new StateMonitor(
      refs[0]!,
      () => 7,
      (x) => seen.push(x.what),
    );
    m.observe('b', 2, states[1]!, () => true);
    const whats = m.divergences.map((x) => x.what);
    expect(whats).toContain('another root CA');
    expect(whats).toContain('another mesh CA');
    expect(m.divergences[0]).toMatchObject({ atMs: 7, replica: 'b', incarnation: 2 });
    expect(seen).toEqual(whats);
  });

  it('flags a second active replica with other CAs at the same transition, and compares only live ones', () => {
    // The second Coordinator has the same manifest (so the same transition) but its own CAs.
    const m = new StateMonitor(refs[0]!, () => 0);
    m.observe('a', 0, states[0]!, () => true);
    m.observe('b', 1, states[1]!, () => true);
    expect(m.divergences.map((x) => `${x.replica}#${x.incarnation}: ${x.what}`)).toEqual([
      'b#1: another root CA',
      'b#1: another mesh CA',
    ]);
    // Two replicas at the latest generation are compared; a forgotten (killed) one is not.
    const n = new StateMonitor(refs[0]!, () => 0);
    n.observe('a', 0, states[0]!, () => true);
    n.observe('c', 0, states[0]!, () => true);
    expect(n.counts.comparisons).toBe(1);
    n.forget('a');
    n.observe('c', 0, states[0]!, () => true);
    expect(n.counts.comparisons).toBe(1);
    expect(n.divergences).toEqual([]);
  });

  it('after an update, accepts the previous generation only while it propagates', () => {
    let now = 0;
    const m = new StateMonitor(
      refs[0]!,
      () => now,
      () => {},
      30_000,
    );
    m.observe('a', 0, states[0]!, () => true);
    now = 1_000;
    m.advance(refs[1]!);
    expect(m.current('a')).toBe(false);
    now = 20_000;
    m.observe('a', 0, states[0]!, () => true);
    expect(m.divergences).toEqual([]);
    expect(m.counts.lagging).toBe(1);
    m.observe('b', 0, states[1]!, () => true);
    expect(m.current('b')).toBe(true);
    now = 31_001;
    m.observe('a', 0, states[0]!, () => true);
    expect(m.divergences.map((x) => x.what)).toEqual([
      'serves generation 0 30001 ms after generation 1 was set',
    ]);
  });

  it('keeps answers of an update being set until the harness knows it, then judges them', () => {
    const m = new StateMonitor(refs[0]!, () => 0);
    m.beginUpdate();
    m.observe('b', 0, states[1]!, () => true);
    expect(m.divergences).toEqual([]);
    m.advance(refs[1]!);
    expect(m.divergences).toEqual([]);
    // An update that failed: what was kept matches no generation and is flagged.
    const n = new StateMonitor(refs[0]!, () => 5);
    n.beginUpdate();
    n.observe('b', 3, states[1]!, () => true);
    n.abortUpdate();
    expect(n.divergences.map((x) => `${x.atMs} ${x.replica}#${x.incarnation}: ${x.what}`)).toEqual([
      '5 b#3: another root CA',
      '5 b#3: another mesh CA',
    ]);
  });

  it('flags an active replica with other manifests', () => {
    const m = new StateMonitor(refs[0]!, () => 0);
    m.observe('a', 0, { ...states[0]!, policies: states[0]!.policies.slice(1) }, () => true);
    expect(m.divergences.map((x) => x.what)).toEqual(['other manifests or policies']);
  });
});

describe('checkInitializerOutput', () => {
  it("accepts a certificate from the reference's mesh CA, refuses one from another Coordinator", () => {
    const secrets = new Map<string, string>();
    expect(checkInitializerOutput(outputs[0]!, 'web', [refs[0]!], secrets)).toBeUndefined();
    expect(checkInitializerOutput(outputs[1]!, 'web', [refs[0]!], new Map())).toBe('got another mesh CA');
  });

  it('refuses a leaf not signed by the mesh CA, a leaf for another key, and a second workload secret', () => {
    const [a, b] = outputs as [InitializerOutput, InitializerOutput];
    expect(checkInitializerOutput({ ...a, certChain: b.certChain }, 'web', [refs[0]!], new Map())).toBe(
      'the certificate is not signed by the mesh CA',
    );
    const secrets = new Map<string, string>();
    expect(checkInitializerOutput(a, 'web', [refs[0]!], secrets)).toBeUndefined();
    expect(checkInitializerOutput({ ...a, key: b.key }, 'web', [refs[0]!], secrets)).toBe(
      "the certificate is not for the initializer's key",
    );
    expect(
      checkInitializerOutput({ ...a, workloadSecret: b.workloadSecret! }, 'web', [refs[0]!], secrets),
    ).toBe('another workload secret for web');
    expect(checkInitializerOutput({ ...a, rootCa: b.rootCa }, 'web', [refs[0]!], secrets)).toBe(
      'got another root CA',
    );
  });
});
