// Test helpers for set / verify / recover: a deployment made by `contrast generate` (the shop
// example, recorded image facts, the simulated TDX platform) and an in-process Coordinator on
// 127.0.0.1 with a history store in a temporary directory.
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CollateralConfig, createCollateralSources } from '@contrast-cc/attestation';
import { createSimulatedTdxIssuer, type SimulatedTdx } from '@contrast-cc/attestation/tdx';
import { type RunningCoordinator, startCoordinator } from '@contrast-cc/authority/server';
import {
  createPlatformRegistry,
  fromHex,
  type Issuer,
  noopLogger,
  type PlatformRegistry,
} from '@contrast-cc/core';
import {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  createSimulatorTrust,
  SIMULATED_MEASUREMENTS,
} from '@contrast-cc/platform-simulator';
import { loadRecordedImages } from '@contrast-cc/policy';
import { DirectoryHistoryStore, type HistoryStore } from '@contrast-cc/store';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Command } from '../command.js';
import { createGenerateCommand } from '../commands/generate.js';
import { captureIo } from './harness.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const shop = path.join(repoRoot, 'examples', 'shop');

/** A generated deployment: a workspace template plus the platforms that trust its simulator. */
export interface Deployment {
  /** The template workspace: manifest.json, deployment/, workload-owner.pem, seedshare-owner.pem. */
  template: string;
  registry: PlatformRegistry;
  /** The same platforms with verifiers on these collateral sources (what --kds-url / --pcs-url build). */
  registryFor(collateral: CollateralConfig): PlatformRegistry;
  /** The simulated TDX machine the quotes come from (its collateral, for a PCS stand-in). */
  tdxSimulator: SimulatedTdx;
  /** Policy hash (hex) of the Coordinator and of one workload. */
  coordinatorPolicy: string;
  workloadPolicy: string;
  /** The evidence issuer of a simulated TDX guest whose initdata hashes to `policyHash`. */
  issuerFor(policyHash: string): Issuer;
  /** Removes the template and the simulator trust. */
  dispose(): void;
}

/**
 * Runs `contrast generate --reference-values Simulated-TDX deployment/` on a copy of
 * examples/shop (recorded image facts, pre-made owner keys) and returns the result as a template.
 */
export async function generateDeployment(): Promise<Deployment> {
  const root = mkdtempSync(path.join(tmpdir(), 'contrast-cli-deploy-'));
  const template = path.join(root, 'ws');
  const trust = createSimulatorTrust({ dir: path.join(root, 'simulator') });
  const m = SIMULATED_MEASUREMENTS.tdx;
  const tdxSimulator = await createSimulatedTdxIssuer({
    td: { mrTd: fromHex(m.mrTd), mrSeam: fromHex(m.mrSeam), rtmrs: m.rtmrs.map((r) => fromHex(r)) },
  });
  const simTdx = createSimulatedTdxPlatform({ trust, tdxSimulator });
  const registry = createPlatformRegistry([createSimulatedSnpPlatform({ trust }), simTdx]);
  const registryFor = (collateral: CollateralConfig) => {
    const sources = createCollateralSources(collateral);
    const c = { ...(sources.snp ? { snp: sources.snp } : {}), ...(sources.tdx ? { tdx: sources.tdx } : {}) };
    return createPlatformRegistry([
      createSimulatedSnpPlatform({ trust, collateral: c }),
      createSimulatedTdxPlatform({ trust, tdxSimulator, collateral: c }),
    ]);
  };

  cpSync(shop, path.join(template, 'deployment'), {
    recursive: true,
    filter: (s) => !s.endsWith('README.md') && !s.endsWith('image-facts.json'),
  });
  writeFileSync(
    path.join(template, 'workload-owner.pem'),
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }),
    { mode: 0o600 },
  );
  writeFileSync(
    path.join(template, 'seedshare-owner.pem'),
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs1' }),
    { mode: 0o600 },
  );
  const images = await loadRecordedImages(path.join(shop, 'image-facts.json'));
  const c = captureIo(template);
  // The Contrast images to inject: those the recorded facts hold (as in `contrast demo`).
  c.io.env = { CONTRAST_IMAGE_FACTS: path.join(shop, 'image-facts.json') };
  const code = await createGenerateCommand({ registry, images }).run(
    ['--reference-values', 'Simulated-TDX', 'deployment/'],
    c.io,
  );
  if (code !== 0) throw new Error(`contrast generate failed (${code}):\n${c.err()}`);

  const manifest = JSON.parse(readFileSync(path.join(template, 'manifest.json'), 'utf8')) as {
    Policies: Record<string, { Role?: string }>;
  };
  const entries = Object.entries(manifest.Policies);
  const coordinatorPolicy = entries.find(([, p]) => p.Role === 'coordinator')?.[0];
  const workloadPolicy = entries.find(([, p]) => p.Role !== 'coordinator')?.[0];
  if (!coordinatorPolicy || !workloadPolicy)
    throw new Error('generate wrote no coordinator or workload policy');
  return {
    template,
    registry,
    registryFor,
    tdxSimulator,
    coordinatorPolicy,
    workloadPolicy,
    issuerFor: (policyHash) => {
      const create = simTdx.attestation.createIssuer;
      if (!create) throw new Error('the simulated TDX platform has no issuer');
      return create({ logger: noopLogger, hostData: fromHex(policyHash) });
    },
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A fresh copy of the template workspace (removed by the returned dispose). */
export function copyWorkspace(d: Deployment): { dir: string; dispose(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'contrast-cli-ws-'));
  cpSync(d.template, dir, { recursive: true });
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An in-process Coordinator on 127.0.0.1 over a DirectoryHistoryStore in `storeDir`. */
export interface TestCoordinator {
  running: RunningCoordinator;
  store: HistoryStore;
  address: string;
  /** Closes the server and the store (the directory stays: a restart opens it again). */
  close(): Promise<void>;
}

export async function startTestCoordinator(
  d: Deployment,
  options: { storeDir: string; policyHash?: string; port?: number; store?: HistoryStore },
): Promise<TestCoordinator> {
  const store = options.store ?? (await DirectoryHistoryStore.open(options.storeDir));
  const running = await startCoordinator({
    store,
    platforms: d.registry,
    issuer: d.issuerFor(options.policyHash ?? d.coordinatorPolicy),
    allowInsecure: true,
    host: '127.0.0.1',
    port: options.port ?? 0,
    metricsPort: null,
  });
  return {
    running,
    store,
    address: `127.0.0.1:${running.port}`,
    async close() {
      await running.close();
      await store.close();
    },
  };
}

/** Runs a command in `cwd`; returns its exit code and captured output. */
export async function runIn(
  command: Command,
  cwd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo(cwd);
  const code = await command.run(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

/** A loopback port nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The per-file setup of the CLI's tests against an in-process Coordinator (see useCoordinatorWorkspace). */
export interface CoordinatorWorkspace {
  /** The generated deployment (valid once the file's beforeAll has run). */
  readonly d: Deployment;
  /** This test's copy of the workspace. */
  readonly dir: string;
  /** A path inside this test's workspace. */
  file(name: string): string;
  /** Runs `command` in this test's workspace. */
  run(command: Command, args: string[]): Promise<{ code: number; out: string; err: string }>;
  /** Starts a Coordinator on this test's store (closed after the test). */
  start(policyHash?: string, port?: number): Promise<TestCoordinator>;
  /** Closes the running Coordinator; its store directory stays, so `start` again is a restart. */
  stop(): Promise<void>;
}

/**
 * Registers the hooks for a test file: one generated deployment for the file, and per test a
 * fresh workspace copy and store directory, removed (and the Coordinator closed) after the test.
 */
export function useCoordinatorWorkspace(): CoordinatorWorkspace {
  let d: Deployment | undefined;
  let ws: { dir: string; dispose(): void } | undefined;
  let storeDir: string | undefined;
  let coordinator: TestCoordinator | undefined;
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useCoordinatorWorkspace: ${what} is only set inside a test`);
    return value;
  };

  beforeAll(async () => {
    d = await generateDeployment();
  }, 120_000);
  afterAll(() => d?.dispose());
  beforeEach(() => {
    ws = copyWorkspace(need(d, 'the deployment'));
    storeDir = mkdtempSync(path.join(tmpdir(), 'contrast-cli-store-'));
  });
  afterEach(async () => {
    await coordinator?.close();
    coordinator = undefined;
    ws?.dispose();
    ws = undefined;
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
    storeDir = undefined;
  });

  return {
    get d() {
      return need(d, 'the deployment');
    },
    get dir() {
      return need(ws, 'the workspace').dir;
    },
    file: (name) => path.join(need(ws, 'the workspace').dir, name),
    run: (command, args) => runIn(command, need(ws, 'the workspace').dir, args),
    async start(policyHash, port) {
      coordinator = await startTestCoordinator(need(d, 'the deployment'), {
        storeDir: need(storeDir, 'the store directory'),
        ...(policyHash ? { policyHash } : {}),
        ...(port ? { port } : {}),
      });
      return coordinator;
    },
    async stop() {
      await coordinator?.close();
      coordinator = undefined;
    },
  };
}
