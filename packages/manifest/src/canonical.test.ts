import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalManifestBytes, canonicalManifestJson, manifestHashAsync } from './canonical.js';
import { manifestHash } from './hash.js';
import type { Manifest } from './schema.js';
import { COORDINATOR_HASH, validManifest, WEB_HASH } from './test-support/fixtures.js';
import { parseManifest } from './validate.js';

describe('canonical manifest bytes', () => {
  it('orders fields as the schema declares them and sorts policy keys, whatever the input order', () => {
    const m = validManifest();
    const shuffled = {
      SeedshareOwnerPubKeys: m.SeedshareOwnerPubKeys,
      ReferenceValues: { tdx: m.ReferenceValues.tdx, snp: m.ReferenceValues.snp },
      WorkloadOwnerPubKeys: m.WorkloadOwnerPubKeys,
      Policies: { [WEB_HASH]: m.Policies[WEB_HASH]!, [COORDINATOR_HASH]: m.Policies[COORDINATOR_HASH]! },
    } as Manifest;
    const text = canonicalManifestJson(shuffled);
    expect(text).toBe(canonicalManifestJson(m));
    const top = Object.keys(JSON.parse(text));
    expect(top).toEqual(['Policies', 'ReferenceValues', 'WorkloadOwnerPubKeys', 'SeedshareOwnerPubKeys']);
    expect(Object.keys(JSON.parse(text).Policies)).toEqual([COORDINATOR_HASH, WEB_HASH].sort());
    expect(text.indexOf('"snp"')).toBeLessThan(text.indexOf('"tdx"'));
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "Policies": {\n    "');
  });

  it('SeedshareThreshold comes last when set; absent, the bytes are those of a manifest without it', () => {
    const m = validManifest();
    const without = canonicalManifestJson(m);
    const withK = canonicalManifestJson({ SeedshareThreshold: 1, ...m } as Manifest);
    expect(Object.keys(JSON.parse(withK)).at(-1)).toBe('SeedshareThreshold');
    expect(withK).toBe(`${without.slice(0, -3)},\n  "SeedshareThreshold": 1\n}\n`);
    expect(canonicalManifestJson({ ...m, SeedshareThreshold: undefined } as Manifest)).toBe(without);
  });

  it('escapes <, > and & as Go does', () => {
    const m = validManifest();
    m.Policies[WEB_HASH]!.SANs = ['a<b>&c'];
    expect(canonicalManifestJson(m)).toContain('"a\\u003cb\\u003e\\u0026c"');
    expect(JSON.parse(canonicalManifestJson(m)).Policies[WEB_HASH].SANs).toEqual(['a<b>&c']);
  });

  it('round-trips: parse(canonical(m)) has the same canonical bytes', () => {
    const m = parseManifest(validManifest()).manifest;
    const again = parseManifest(canonicalManifestJson(m)).manifest;
    expect(canonicalManifestBytes(again)).toEqual(canonicalManifestBytes(m));
  });

  it('hash = sha256 of the canonical bytes (node:crypto and WebCrypto alike), and any change changes it', async () => {
    const m = validManifest();
    const expected = createHash('sha256').update(canonicalManifestBytes(m)).digest('hex');
    expect(manifestHash(m)).toBe(expected);
    expect(manifestHash(canonicalManifestBytes(m))).toBe(expected);
    expect(await manifestHashAsync(m)).toBe(expected);
    expect(await manifestHashAsync(canonicalManifestBytes(m))).toBe(expected);
    m.Policies[WEB_HASH]!.SANs = ['web'];
    expect(manifestHash(m)).not.toBe(expected);
    expect(await manifestHashAsync(m)).toBe(manifestHash(m));
  });

  it('is independent of key insertion order (property)', () => {
    const base = validManifest();
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[0-9a-f]{64}$/), { maxLength: 6 }), (hashes) => {
        const policies = Object.fromEntries(hashes.map((h) => [h, { SANs: [h.slice(0, 4)] }]));
        const reversed = Object.fromEntries(Object.entries(policies).reverse());
        const a = { ...base, Policies: { ...base.Policies, ...policies } };
        const b = { ...base, Policies: { ...reversed, ...base.Policies } };
        expect(manifestHash(a)).toBe(manifestHash(b));
      }),
    );
  });
});
