import { ContrastError } from '@contrast-cc/core';
import { FakeVerifier } from '@contrast-cc/core/testing';
import { describe, expect, it } from 'vitest';
import {
  createEvidenceBundle,
  type EvidenceBundle,
  openEvidenceBundle,
  verifyEvidenceBundle,
} from './bundle.js';
import { verifyCoordinatorAttestation } from './coordinator-verify.js';
import { toBase64 } from './schemas.js';
import { answer, COORDINATOR_POLICY } from './test-support/answer.js';

const PARTS = [
  'format',
  'saved_at',
  'coordinator',
  'nonce',
  'tls_spki',
  'manifest',
  'attestation',
  'checksums',
];
const options = { verifiers: [new FakeVerifier()], allowInsecure: true };

async function saved(): Promise<{ bundle: EvidenceBundle; text: string }> {
  const { attestation, manifests } = await answer();
  const bundle = {
    savedAt: new Date('2026-12-06T12:00:00Z'),
    coordinator: '127.0.0.1:1314',
    attestation,
    manifest: manifests[1]!,
  };
  return { bundle, text: await createEvidenceBundle(bundle) };
}

describe('evidence bundles', () => {
  it('re-verify to the same verdict and report as the live check', async () => {
    const { bundle, text } = await saved();
    const live = await verifyCoordinatorAttestation(bundle.attestation, {
      ...options,
      manifest: bundle.manifest,
      coordinatorPolicyHashes: [COORDINATOR_POLICY],
      now: bundle.savedAt,
    });
    const opened = await openEvidenceBundle(text);
    expect(opened).toEqual(bundle);
    const again = await verifyEvidenceBundle(opened, options);
    expect(live.ok).toBe(true);
    expect(again).toEqual(live);
  });

  it('a flipped byte anywhere is refused, naming the part', async () => {
    const { text } = await saved();
    const bytes = new TextEncoder().encode(text);
    const named = new Map<string, number>();
    for (let i = 0; i < bytes.length; i++) {
      const copy = new Uint8Array(bytes);
      copy[i]! ^= 0x01;
      let error: unknown;
      try {
        await openEvidenceBundle(new TextDecoder().decode(copy));
      } catch (e) {
        error = e;
      }
      expect(error, `byte ${i} (${JSON.stringify(text[i])}) was not refused`).toBeInstanceOf(ContrastError);
      const field = (error as ContrastError).field ?? '';
      expect(PARTS.includes(field) || /^line \d+$/.test(field), `byte ${i}: field ${field}`).toBe(true);
      named.set(field, (named.get(field) ?? 0) + 1);
    }
    // Every part was named for some of its bytes.
    for (const part of PARTS) expect(named.get(part), part).toBeGreaterThan(0);
  });

  it('a part edited and its checksum recomputed: the evidence check refuses it', async () => {
    const { bundle } = await saved();
    const response = bundle.attestation.response as { evidence: { data: string } };
    const data = Buffer.from(response.evidence.data, 'base64');
    data[20]! ^= 0x01;
    const edited = {
      ...bundle,
      attestation: {
        ...bundle.attestation,
        response: { ...response, evidence: { ...response.evidence, data: toBase64(data) } },
      },
    };
    const v = await verifyEvidenceBundle(
      await openEvidenceBundle(await createEvidenceBundle(edited)),
      options,
    );
    expect(v).toMatchObject({ ok: false, reason: { code: 'evidence-rejected' } });
    const otherNonce = { ...bundle, attestation: { ...bundle.attestation, nonce: new Uint8Array(32) } };
    const w = await verifyEvidenceBundle(
      await openEvidenceBundle(await createEvidenceBundle(otherNonce)),
      options,
    );
    expect(w).toMatchObject({
      ok: false,
      reason: { code: 'evidence-rejected', field: 'evidence.reportData' },
    });
  });
});
