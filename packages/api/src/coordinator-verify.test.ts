import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { FakeVerifier } from '@contrast-cc/core/testing';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { type CoordinatorAttestation, verifyCoordinatorAttestation } from './coordinator-verify.js';
import { toBase64 } from './schemas.js';
import {
  answer,
  COORDINATOR_POLICY,
  COORDINATOR_POLICY_DOC,
  certPem,
  hex,
  manifestBytes,
  sha256,
  utf8,
  WORKLOAD_POLICY_DOC,
} from './test-support/answer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// The fake verifier's claims are insecure (as a simulator's): allowed here, refused when not.
const expectations = (manifest?: Uint8Array) => ({
  verifiers: [new FakeVerifier()],
  allowInsecure: true,
  coordinatorPolicyHashes: [COORDINATOR_POLICY],
  ...(manifest ? { manifest } : {}),
});

describe('verifyCoordinatorAttestation', () => {
  it('accepts a Coordinator that runs the expected manifest and reports history, policies and root CA', async () => {
    const { attestation, manifests, rootDer } = await answer();
    const v = await verifyCoordinatorAttestation(attestation, expectations(manifests[1]));
    expect(v.ok, JSON.stringify(v.ok ? '' : v.reason)).toBe(true);
    if (!v.ok) return;
    expect(v.report.manifestHash).toBe(hex(sha256(manifests[1]!)));
    expect(v.report.manifests.map((m) => m.hash)).toEqual(manifests.map((m) => hex(sha256(m))));
    expect(v.report.policies.map((p) => p.hash)).toEqual([
      hex(sha256(WORKLOAD_POLICY_DOC)),
      hex(sha256(COORDINATOR_POLICY_DOC)),
    ]);
    expect(v.report.rootCaFingerprint).toBe(hex(sha256(rootDer)));
    // The same by hash, and with CRLF line endings of the expected file.
    const crlf = utf8(new TextDecoder().decode(manifests[1]).replace(/\n/g, '\r\n'));
    expect((await verifyCoordinatorAttestation(attestation, expectations(crlf))).ok).toBe(true);
    const byHash = { ...expectations(), manifestHash: hex(sha256(manifests[1]!)) };
    expect((await verifyCoordinatorAttestation(attestation, byHash)).ok).toBe(true);
  });

  it('refuses each kind of mismatch with its code and the part at fault', async () => {
    const { attestation, response, manifests } = await answer();
    const withResponse = (patch: Record<string, unknown>) => ({
      ...attestation,
      response: { ...response, ...patch },
    });
    const cases: [CoordinatorAttestation, Partial<ReturnType<typeof expectations>>, string, string][] = [
      [{ ...attestation, nonce: new Uint8Array(32).fill(8) }, {}, 'evidence-rejected', 'evidence.reportData'],
      [{ ...attestation, tlsSpki: attestation.tlsSpki.slice(1) }, {}, 'state-mismatch', 'tls_spki'],
      [withResponse({ root_ca: certPem(utf8('another root')) }), {}, 'state-mismatch', 'stateDigest'],
      [withResponse({ status: 'stale' }), {}, 'state-mismatch', 'stateDigest'],
      [withResponse({ manifests: [toBase64(manifests[1]!)] }), {}, 'history-mismatch', 'manifests'],
      [
        withResponse({ manifests: [toBase64(manifestBytes('x')), toBase64(manifests[1]!)] }),
        {},
        'history-mismatch',
        'manifests',
      ],
      [withResponse({ policies: [toBase64(utf8('foreign policy'))] }), {}, 'history-mismatch', 'policies[0]'],
      [withResponse({ evidence: 'nope' }), {}, 'malformed', 'evidence'],
      [attestation, { manifest: manifests[0]! }, 'manifest-mismatch', 'manifest'],
      [
        attestation,
        { coordinatorPolicyHashes: ['ab'.repeat(32)] },
        'policy-mismatch',
        'evidence.policyDigest',
      ],
    ];
    for (const [att, exp, code, field] of cases) {
      const v = await verifyCoordinatorAttestation(att, { ...expectations(manifests[1]), ...exp });
      expect(v.ok ? 'ok' : [v.reason.code, v.reason.field], `${code} ${field}`).toEqual([code, field]);
    }
    const strict = { ...expectations(), allowInsecure: false };
    expect(await verifyCoordinatorAttestation(attestation, strict)).toMatchObject({
      ok: false,
      reason: { code: 'insecure-platform', field: 'evidence' },
    });
  });

  it('bundled for the browser, runs in a realm without Buffer, process or require', async () => {
    const out = await build({
      stdin: {
        contents: `export * from './browser.ts'; export { FakeVerifier } from '@contrast-cc/core/testing';`,
        resolveDir: here,
        loader: 'ts',
      },
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      globalName: 'contrastApi',
      conditions: ['@contrast-cc/source'],
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
    });
    expect(Object.keys(out.metafile.inputs).filter((i) => i.startsWith('node:'))).toEqual([]);
    const realm = vm.createContext({ crypto: globalThis.crypto, TextEncoder, TextDecoder, atob, btoa });
    vm.runInContext(out.outputFiles[0]!.text, realm);
    const { attestation, manifests } = await answer();
    realm.input = JSON.stringify({
      nonce: [...attestation.nonce],
      spki: [...attestation.tlsSpki],
      response: attestation.response,
      manifest: [...manifests[1]!],
    });
    const run = (expectedManifest: string) =>
      vm.runInContext(
        `(async () => {
          const i = JSON.parse(input);
          const v = await contrastApi.verifyCoordinatorAttestation(
            { nonce: new Uint8Array(i.nonce), tlsSpki: new Uint8Array(i.spki), response: i.response },
            { verifiers: [new contrastApi.FakeVerifier()], allowInsecure: true, manifest: ${expectedManifest} },
          );
          return JSON.stringify(v.ok ? { ok: true, manifestHash: v.report.manifestHash } : { ok: false, code: v.reason.code });
        })()`,
        realm,
      ) as Promise<string>;
    expect(JSON.parse(await run('new Uint8Array(i.manifest)'))).toEqual({
      ok: true,
      manifestHash: hex(sha256(manifests[1]!)),
    });
    expect(JSON.parse(await run('new TextEncoder().encode("{}")'))).toEqual({
      ok: false,
      code: 'manifest-mismatch',
    });
  });
});
