import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { toHex } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { SeedEngine } from './seed-engine.js';
import { deriveVolumeKey, VOLUME_KEY_LABEL } from './volume-key.js';

const secret = new Uint8Array(createHash('sha512').update('contrast-ts volume key test').digest());

describe('deriveVolumeKey', () => {
  it('is HKDF-SHA256 with the documented label, as openssl computes it', () => {
    const ours = toHex(deriveVolumeKey(secret));
    // openssl as the independent oracle: HKDF, SHA-256, empty salt, info = the label, 32 bytes.
    const openssl = execFileSync('openssl', [
      'kdf',
      '-keylen',
      '32',
      '-kdfopt',
      'digest:SHA256',
      '-kdfopt',
      `hexkey:${toHex(secret)}`,
      '-kdfopt',
      `info:${VOLUME_KEY_LABEL}`,
      'HKDF',
    ])
      .toString()
      .trim()
      .replaceAll(':', '')
      .toLowerCase();
    expect(ours).toBe(openssl);
    expect(ours).toHaveLength(64);
  });

  it('is pinned (a changed label would lock every existing volume)', () => {
    expect(VOLUME_KEY_LABEL).toBe('CONTRAST SECURE PV KEY v1');
    // 64 zero bytes in; value computed once with `openssl kdf ... HKDF` and pinned.
    expect(toHex(deriveVolumeKey(new Uint8Array(64)))).toBe(
      'ae46084aef9a784cdf76a2c9705fa4206f3444ccc8069ec5f3e45e93010114dc',
    );
  });

  it('survives a new engine on the same seed (recovery) and differs per WorkloadSecretID', () => {
    const seed = new Uint8Array(createHash('sha512').update('seed').digest());
    const salt = new Uint8Array(createHash('sha256').update('salt').digest());
    const a = new SeedEngine(seed, salt).workloadSecret('db');
    const b = new SeedEngine(seed, salt).workloadSecret('db');
    const c = new SeedEngine(seed, salt).workloadSecret('web');
    expect(toHex(deriveVolumeKey(a))).toBe(toHex(deriveVolumeKey(b)));
    expect(toHex(deriveVolumeKey(a))).not.toBe(toHex(deriveVolumeKey(c)));
    expect(toHex(deriveVolumeKey(a))).not.toBe(toHex(a).slice(0, 64));
  });

  it('refuses a short secret without printing it', () => {
    const short = new Uint8Array(16).fill(0xab);
    expect(() => deriveVolumeKey(short)).toThrow(expect.objectContaining({ field: 'workloadSecret' }));
    try {
      deriveVolumeKey(short);
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('abab');
    }
  });
});
