import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureIo, sampleManifest } from '../test-support/harness.js';
import { createSignCommand } from './sign.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'contrast-sign-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function owner() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(path.join(dir, 'workload-owner.pem'), privateKey.export({ format: 'pem', type: 'sec1' }));
  writeFileSync(path.join(dir, 'owner.pub.pem'), publicKey.export({ format: 'pem', type: 'spki' }));
  return publicKey.export({ format: 'der', type: 'spki' }).toString('hex');
}

async function sign(...args: string[]) {
  const c = captureIo(dir);
  const code = await createSignCommand().run(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

describe('contrast sign', () => {
  it('--prepare writes sha256(sha256(manifest) || latest) as hex, the zero hash by default', async () => {
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(sampleManifest([owner()])));
    expect((await sign('--prepare', '--out', 'next-transition')).code).toBe(0);
    const manifest = readFileSync(path.join(dir, 'manifest.json'));
    const expected = sha256(Buffer.concat([sha256(manifest), Buffer.alloc(32)])).toString('hex');
    expect(readFileSync(path.join(dir, 'next-transition'), 'utf8')).toBe(expected);

    const latest = 'ab'.repeat(32);
    mkdirSync(path.join(dir, 'verify'));
    writeFileSync(path.join(dir, 'verify/latest-transition'), `${latest}\n`);
    const r = await sign('--prepare', '--out', 'next2', '--json');
    const expected2 = sha256(Buffer.concat([sha256(manifest), Buffer.from(latest, 'hex')])).toString('hex');
    expect(JSON.parse(r.out).transitionHash).toBe(expected2);
  });

  it('signs so that openssl verifies it, and its signature equals what openssl dgst -sign makes verifiable', async () => {
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(sampleManifest([owner()])));
    expect((await sign('--out', 'transition.sig')).code).toBe(0);
    expect((await sign('--prepare', '--out', 'next-transition')).code).toBe(0);
    const ok = execFileSync(
      'openssl',
      ['dgst', '-sha256', '-verify', 'owner.pub.pem', '-signature', 'transition.sig', 'next-transition'],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    expect(ok.trim()).toBe('Verified OK');
    // A signature over another transition does not verify.
    writeFileSync(path.join(dir, 'other'), 'cd'.repeat(32));
    expect(() =>
      execFileSync(
        'openssl',
        ['dgst', '-sha256', '-verify', 'owner.pub.pem', '-signature', 'transition.sig', 'other'],
        { cwd: dir, stdio: 'pipe' },
      ),
    ).toThrow();
  });

  it('warns when the key is not a workload owner of the manifest', async () => {
    owner();
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(sampleManifest([])));
    const r = await sign('--out', 'transition.sig');
    expect(r.code).toBe(0);
    expect(r.err).toContain('not one of the manifest');
  });

  it('fails with exit 2 and writes nothing on bad input', async () => {
    const before = () => readdirSync(dir).sort();
    expect((await sign('--prepare')).err).toContain('--out is required');
    expect((await sign('--out', 'x')).err).toContain('--manifest manifest.json: no such file');
    writeFileSync(path.join(dir, 'manifest.json'), '{"Policies": 3}');
    const bad = await sign('--out', 'x');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('manifest.json');
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(sampleManifest([owner()])));
    expect((await sign('--out', 'x', '--latest-transition', 'zz')).err).toContain('--latest-transition');
    writeFileSync(path.join(dir, 'workload-owner.pem'), 'not a key');
    const noKey = await sign('--out', 'x');
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain('not an ECDSA private key');
    expect(before()).not.toContain('x');
  });
});
