import { createDecipheriv } from 'node:crypto';
import { SeedEngine } from '@contrast-cc/certs';
import { ContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { parseCiphertext, TransitEngine } from './engine.js';

const seed = new Uint8Array(64).map((_, i) => i);
const salt = new Uint8Array(32).map((_, i) => 255 - i);
const text = new TextEncoder().encode('the unseal key of vault-0');

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof ContrastError ? `${e.code}:${e.field ?? ''}` : String(e);
  }
}

describe('TransitEngine', () => {
  const seeds = new SeedEngine(seed, salt);
  const engine = new TransitEngine(seeds);

  it('encrypts with AES-256-GCM under the first 32 bytes of workloadSecret("<version>_<name>")', async () => {
    const c = await engine.encrypt('vault', text);
    expect(c).toMatch(/^vault:v1:/);
    // Decrypt independently with node:crypto and the key derived as upstream documents.
    const p = parseCiphertext(c);
    const key = seeds.workloadSecret('1_vault').subarray(0, 32);
    const d = createDecipheriv('aes-256-gcm', key, p.nonce);
    d.setAuthTag(p.sealed.subarray(p.sealed.length - 16));
    const out = Buffer.concat([d.update(p.sealed.subarray(0, p.sealed.length - 16)), d.final()]);
    expect(new Uint8Array(out)).toEqual(text);
    expect(await engine.decrypt('vault', c)).toEqual(text);
  });

  it('uses a fresh nonce every time and a different key per version and name', async () => {
    const a = await engine.encrypt('vault', text);
    const b = await engine.encrypt('vault', text);
    expect(a).not.toBe(b);
    const v2 = await engine.encrypt('vault', text, { keyVersion: 2 });
    expect(v2).toMatch(/^vault:v2:/);
    expect(await engine.decrypt('vault', v2)).toEqual(text);
    // The same bytes claimed as another version, or for another name, do not decrypt.
    expect(await codeOf(engine.decrypt('vault', v2.replace('vault:v2:', 'vault:v1:')))).toBe(
      'permission-denied:ciphertext',
    );
    expect(await codeOf(engine.decrypt('other', a))).toBe('permission-denied:ciphertext');
  });

  it('binds associated data and refuses a changed ciphertext', async () => {
    const aad = new TextEncoder().encode('vault-0');
    const c = await engine.encrypt('vault', text, { associatedData: aad });
    expect(await engine.decrypt('vault', c, { associatedData: aad })).toEqual(text);
    expect(await codeOf(engine.decrypt('vault', c))).toBe('permission-denied:ciphertext');
    const raw = Buffer.from(c.split(':')[2]!, 'base64');
    raw[20] = (raw[20] ?? 0) ^ 1;
    const flipped = `vault:v1:${raw.toString('base64')}`;
    expect(await codeOf(engine.decrypt('vault', flipped, { associatedData: aad }))).toBe(
      'permission-denied:ciphertext',
    );
  });

  it('rewraps to a newer version only, without changing the plaintext', async () => {
    const c1 = await engine.encrypt('vault', text);
    const c3 = await engine.rewrap('vault', c1, { keyVersion: 3 });
    expect(c3).toMatch(/^vault:v3:/);
    expect(await engine.decrypt('vault', c3)).toEqual(text);
    expect(await codeOf(engine.rewrap('vault', c3, { keyVersion: 2 }))).toBe('invalid-argument:key_version');
    expect(await codeOf(engine.rewrap('vault', c3, {} as { keyVersion: number }))).toBe(
      'invalid-argument:key_version',
    );
  });

  it('decrypts after recovery: a new engine from the same seed and salt', async () => {
    const c = await engine.encrypt('vault', text, { keyVersion: 7 });
    const recovered = new TransitEngine(new SeedEngine(seed.slice(), salt.slice()));
    expect(await recovered.decrypt('vault', c)).toEqual(text);
    const otherSeed = new TransitEngine(new SeedEngine(new Uint8Array(64).fill(9), salt));
    expect(await codeOf(otherSeed.decrypt('vault', c))).toBe('permission-denied:ciphertext');
  });

  it('refuses malformed ciphertexts and versions, naming the field', async () => {
    for (const bad of [
      '',
      'vault:v1',
      'vault:1:AAAA',
      'vault:v01:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'vault:v1:AA',
      'x:v1:AAAA',
    ]) {
      expect(await codeOf(engine.decrypt('vault', bad)), bad).toBe('invalid-argument:ciphertext');
    }
    expect(
      await codeOf(engine.decrypt('vault', 'vault:v99999999999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')),
    ).toBe('invalid-argument:ciphertext');
    expect(await codeOf(engine.encrypt('vault', text, { keyVersion: -1 }))).toBe(
      'invalid-argument:key_version',
    );
    expect(await codeOf(engine.encrypt('vault', text, { keyVersion: 1.5 }))).toBe(
      'invalid-argument:key_version',
    );
  });

  it('passes on a key source that has no seed yet (uninitialized or recovering)', async () => {
    const waiting = new TransitEngine({
      workloadSecret() {
        throw new ContrastError(
          'precondition-failed',
          'the Coordinator has no seed: it is not initialized or in recovery',
        );
      },
    });
    expect(await codeOf(waiting.encrypt('vault', text))).toBe('precondition-failed:');
  });
});
