import { describe, expect, expectTypeOf, it } from 'vitest';
import { PeerRecoverRequestSchema } from './peer.js';
import {
  Base64Schema,
  BODY_LIMITS,
  fromBase64,
  isBase64,
  MeshCertRequestSchema,
  SetManifestRequestSchema,
} from './schemas.js';

describe('Base64Schema', () => {
  it('accepts padded standard base64 and refuses anything else', () => {
    for (const ok of ['', 'AAAA', 'AA==', 'AAA=', 'ab+/', Buffer.from('hello world').toString('base64')]) {
      expect(isBase64(ok), ok).toBe(true);
    }
    for (const bad of ['A', 'AAA', 'A===', '====', 'AA=A', 'AA-_', 'AAAA\n', ' AAAA', 'AAAAA=', 'ÄAAA']) {
      expect(isBase64(bad), bad).toBe(false);
    }
  });

  it('accepts exactly what the regex accepts, on the fast path (Node round trip) and off it', () => {
    const regex = (t: string) => t.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(t);
    // Non-zero padding bits ('QR==' decodes like 'QQ=='): not what Node encodes, still base64.
    const cases = ['QR==', 'QQ==', 'AAB=', 'AAA=', 'A+/=', '+/+/', '-_-_', 'AA\nA', 'AAAA====', 'AA==AA=='];
    // Every 4-character string over a small alphabet with the padding and url-safe characters.
    const alphabet = ['A', 'Q', 'R', 'z', '9', '+', '/', '=', '-', '_', ' '];
    for (const a of alphabet)
      for (const b of alphabet)
        for (const c of alphabet) for (const d of alphabet) cases.push(a + b + c + d, `AAAA${a}${b}${c}${d}`);
    let accepted = 0;
    for (const t of cases) {
      expect(isBase64(t), t).toBe(regex(t));
      if (regex(t)) accepted++;
    }
    expect(accepted).toBeGreaterThan(1000);
    expect(isBase64('QR==')).toBe(true);
    // Above the round-trip length, the regex alone decides (valid and invalid).
    const long = Buffer.alloc(60 * 1024, 1).toString('base64');
    expect(long.length).toBeGreaterThan(64 * 1024);
    expect(isBase64(long)).toBe(true);
    expect(isBase64(`${long.slice(0, -4)}AA-A`)).toBe(false);
  });

  it('fromBase64 decodes into an array of its own, exactly sized, and lenient input as before', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = new Uint8Array(Array.from({ length: n }, (_, i) => (i * 151 + n * 7) & 0xff));
      const out = fromBase64(Buffer.from(bytes).toString('base64'));
      expect(out).toEqual(bytes);
      expect(out.buffer.byteLength).toBe(n);
      expect(Buffer.isBuffer(out)).toBe(false);
    }
    for (const t of [
      'QR==',
      'AA',
      'AAA',
      'AAAAAA',
      'A===',
      '====',
      'AA\nAA==',
      '-_-_',
      'AA=A',
      ' AAAA',
      'AAAA!!!!',
    ]) {
      expect(fromBase64(t), t).toEqual(new Uint8Array(Buffer.from(t, 'base64')));
    }
  });

  it('checks a field as large as the manifest limit without overflowing the regex stack', () => {
    // The former grouped pattern threw "Maximum call stack size exceeded" from ~4.5 MiB on: a
    // large manifest could never be set (500 from the Coordinator).
    const big = Buffer.alloc((BODY_LIMITS.manifest / 4) * 3 - 3, 7).toString('base64');
    expect(big.length).toBeGreaterThan(15 * 1024 * 1024);
    expect(Base64Schema.safeParse(big).success).toBe(true);
    expect(SetManifestRequestSchema.safeParse({ manifest: big, policies: [] }).success).toBe(true);
    expect(Base64Schema.safeParse(`${big.slice(1)}`).success).toBe(false);
  });
});

describe('the attested-key requests (mesh cert, peer recover)', () => {
  const evidence = { kind: 'snp', data: 'AAAA', extras: { vcek: 'AQID' } };

  it('keep their wire bytes: fields in the order nonce, key, evidence, whatever order they came in', () => {
    const mesh = MeshCertRequestSchema.parse({ evidence, public_key: 'BBBB', nonce: 'CCCC' });
    expect(JSON.stringify(mesh)).toBe(
      '{"nonce":"CCCC","public_key":"BBBB","evidence":{"kind":"snp","data":"AAAA","extras":{"vcek":"AQID"}}}',
    );
    const peer = PeerRecoverRequestSchema.parse({ evidence, ephemeral_public_key: 'BBBB', nonce: 'CCCC' });
    expect(JSON.stringify(peer)).toBe(
      '{"nonce":"CCCC","ephemeral_public_key":"BBBB","evidence":{"kind":"snp","data":"AAAA","extras":{"vcek":"AQID"}}}',
    );
    expect(MeshCertRequestSchema.parse({})).toEqual({});
    expect(PeerRecoverRequestSchema.parse({})).toEqual({});
  });

  it("refuses the other contract's key name, unknown fields and non-base64 keys", () => {
    expect(MeshCertRequestSchema.safeParse({ nonce: 'AAAA', ephemeral_public_key: 'AAAA' }).success).toBe(
      false,
    );
    expect(PeerRecoverRequestSchema.safeParse({ nonce: 'AAAA', public_key: 'AAAA' }).success).toBe(false);
    expect(MeshCertRequestSchema.safeParse({ public_key: 'not base64!' }).success).toBe(false);
    expect(PeerRecoverRequestSchema.safeParse({ ephemeral_public_key: 'not base64!' }).success).toBe(false);
    expect(MeshCertRequestSchema.safeParse({ evidence: { kind: '', data: 'AAAA' } }).success).toBe(false);
  });

  it('infer the same types as the hand-written schemas did', () => {
    type Ev = { kind: string; data: string; extras?: Record<string, string> | undefined };
    expectTypeOf(MeshCertRequestSchema.parse({})).toEqualTypeOf<{
      nonce?: string | undefined;
      public_key?: string | undefined;
      evidence?: Ev | undefined;
    }>();
    expectTypeOf(PeerRecoverRequestSchema.parse({})).toEqualTypeOf<{
      nonce?: string | undefined;
      ephemeral_public_key?: string | undefined;
      evidence?: Ev | undefined;
    }>();
  });
});
