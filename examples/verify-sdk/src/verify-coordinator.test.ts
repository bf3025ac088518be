// The example runs against a live Simulated-TDX Coordinator on loopback.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoordinatorClient, verifiersForReferenceValues } from '@contrast-cc/api';
import { type RunningCoordinator, startCoordinator } from '@contrast-cc/authority/server';
import { deployment, ownerSignature } from '@contrast-cc/authority/testing';
import { createPlatformRegistry, fromHex, noopLogger } from '@contrast-cc/core';
import {
  createSimulatedTdxPlatform,
  createSimulatorTrust,
  simulatedTdxReferenceValues,
} from '@contrast-cc/platform-simulator';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './verify-coordinator.js';

describe('examples/verify-sdk against a simulated Coordinator', () => {
  let root: string;
  let running: RunningCoordinator;
  let store: DirectoryHistoryStore;
  let manifestFile: string;
  const platform = () =>
    createSimulatedTdxPlatform({ trust: createSimulatorTrust({ dir: path.join(root, 'sim') }) });

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'example-verify-sdk-'));
    const sim = platform();
    const d = deployment(['web']);
    const manifestJson = { ...d.manifestJson, ReferenceValues: { tdx: [simulatedTdxReferenceValues()] } };
    const manifest = new TextEncoder().encode(JSON.stringify(manifestJson, null, 2));
    manifestFile = path.join(root, 'manifest.json');
    writeFileSync(manifestFile, manifest);
    store = await DirectoryHistoryStore.open(path.join(root, 'store'));
    running = await startCoordinator({
      store,
      platforms: createPlatformRegistry([sim]),
      issuer: sim.attestation.createIssuer!({ logger: noopLogger, hostData: fromHex(d.hashes.coordinator!) }),
      allowInsecure: true,
      host: '127.0.0.1',
      port: 0,
      metricsPort: null,
    });
    const client = await CoordinatorClient.connect({
      host: '127.0.0.1',
      port: running.port,
      verifiers: verifiersForReferenceValues(
        createPlatformRegistry([sim]),
        manifestJson.ReferenceValues as never,
      ),
      allowInsecure: true,
    });
    await client.setManifest({
      manifest,
      policies: d.policies,
      signature: ownerSignature(manifest, '0'.repeat(64)),
    });
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await store?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const run = async (args: string[], options: Parameters<typeof main>[2]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, options);
    return { code, out, err };
  };

  it('VALID for the manifest the Coordinator runs, with its hash and root CA fingerprint', async () => {
    const r = await run([`127.0.0.1:${running.port}`, manifestFile], {
      platforms: [platform()],
      allowInsecure: true,
    });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('VALID (SIMULATED: insecure)');
    expect(r.out[1]).toMatch(/^manifest [0-9a-f]{64} \(1 in the history, 2 policies\)$/);
    expect(r.out[2]).toMatch(/^root CA sha256 [0-9a-f]{64}$/);
  });

  it('NOT VALID for another manifest, for simulated evidence without consent, and for only real platforms', async () => {
    const other = path.join(root, 'other.json');
    const m = JSON.parse(await (await import('node:fs/promises')).readFile(manifestFile, 'utf8'));
    m.SeedshareOwnerPubKeys = [];
    writeFileSync(other, JSON.stringify(m, null, 2));
    const mismatch = await run([`127.0.0.1:${running.port}`, other], {
      platforms: [platform()],
      allowInsecure: true,
    });
    expect(mismatch.code).toBe(1);
    expect(mismatch.err[0]).toMatch(/^NOT VALID: manifest-mismatch \(manifest\): /);
    const strict = await run([`127.0.0.1:${running.port}`, manifestFile], { platforms: [platform()] });
    expect(strict.code).toBe(1);
    expect(strict.err[0]).toMatch(/^NOT VALID: insecure-platform/);
    // The vendor's default: real platforms only; a Simulated-TDX manifest names a platform it does not know.
    const real = await run([`127.0.0.1:${running.port}`, manifestFile], {});
    expect(real.code).toBe(2);
    expect(real.err[0]).toMatch(/Simulated-TDX.*not known/);
  });
});
