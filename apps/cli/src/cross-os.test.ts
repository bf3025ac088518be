// What differs between Linux, macOS and Windows on the CLI path: where caches go, and user files
// with Windows line endings (CRLF), as an editor or `git config core.autocrlf` leaves them.
import { createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSeedShareDocument } from '@contrast-cc/certs';
import { seedshareOwnerKeyHex, workloadOwnerKeyHex } from '@contrast-cc/manifest';
import { afterAll, describe, expect, it } from 'vitest';
import { createEvidenceCommand } from './commands/evidence.js';
import { createRecoverCommand } from './commands/recover.js';
import { createSignCommand } from './commands/sign.js';
import { cliPlatformRegistry } from './platforms.js';
import { unusedPort } from './test-support/coordinator.js';
import { captureIo, sampleManifest, sharedDir } from './test-support/harness.js';
import { userCacheDir } from './util.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'contrast-cross-os-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The text with every line ending turned into CRLF. */
const crlf = (text: string | Buffer): string => text.toString().replace(/\r?\n/g, '\r\n');

function workspace(name: string): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function run(
  command: { run: (a: string[], io: ReturnType<typeof captureIo>['io']) => Promise<number> },
  dir: string,
  args: string[],
) {
  const c = captureIo(dir);
  const code = await command.run(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

describe('userCacheDir: the per-user cache on each platform', () => {
  const io = (env: Record<string, string>, cwd = '/work') => ({ cwd, env });

  it('Linux: $XDG_CACHE_HOME/contrast, else ~/.cache/contrast; a relative XDG_CACHE_HOME is ignored', () => {
    const linux = { platform: 'linux' as const, homedir: '/home/ada' };
    expect(userCacheDir(io({}), linux)).toBe('/home/ada/.cache/contrast');
    expect(userCacheDir(io({ XDG_CACHE_HOME: '/var/cache/ada' }), linux)).toBe('/var/cache/ada/contrast');
    expect(userCacheDir(io({ XDG_CACHE_HOME: 'rel/cache' }), linux)).toBe('/home/ada/.cache/contrast');
  });

  it('macOS: ~/Library/Caches/contrast unless XDG_CACHE_HOME is set', () => {
    const mac = { platform: 'darwin' as const, homedir: '/Users/ada' };
    expect(userCacheDir(io({}), mac)).toBe('/Users/ada/Library/Caches/contrast');
    expect(userCacheDir(io({ XDG_CACHE_HOME: '/Users/ada/.cache' }), mac)).toBe('/Users/ada/.cache/contrast');
  });

  it('Windows: %LOCALAPPDATA%\\contrast\\cache, else under the home directory; never a Unix path', () => {
    const win = { platform: 'win32' as const, homedir: 'C:\\Users\\ada' };
    expect(userCacheDir(io({ LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }), win)).toBe(
      'C:\\Users\\ada\\AppData\\Local\\contrast\\cache',
    );
    expect(userCacheDir(io({}), win)).toBe('C:\\Users\\ada\\AppData\\Local\\contrast\\cache');
    // XDG_CACHE_HOME (say, from a Git Bash profile) does not apply on Windows.
    expect(userCacheDir(io({ XDG_CACHE_HOME: '/c/cache' }), win)).toBe(
      'C:\\Users\\ada\\AppData\\Local\\contrast\\cache',
    );
  });

  it('$CONTRAST_CACHE_DIR wins everywhere, relative to the working directory', () => {
    expect(userCacheDir(io({ CONTRAST_CACHE_DIR: 'c' }), { platform: 'linux', homedir: '/h' })).toBe(
      '/work/c',
    );
    expect(
      userCacheDir(io({ CONTRAST_CACHE_DIR: 'c', LOCALAPPDATA: 'D:\\x' }, 'D:\\proj'), {
        platform: 'win32',
        homedir: 'C:\\h',
      }),
    ).toBe('D:\\proj\\c');
    expect(userCacheDir(io({ CONTRAST_CACHE_DIR: '/abs/c' }), { platform: 'darwin', homedir: '/h' })).toBe(
      '/abs/c',
    );
  });

  it('on this machine it is an absolute path ending in contrast', () => {
    const dir = userCacheDir({ cwd: process.cwd(), env: {} });
    expect(path.isAbsolute(dir)).toBe(true);
    expect(dir).toMatch(/contrast([\\/]cache)?$/);
  });
});

describe('CRLF user files', () => {
  it('owner keys in PEM with CRLF give the same key digests as with LF (generate, sign)', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({
      format: 'pem',
      type: 'sec1',
    }) as string;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'pem',
      type: 'pkcs1',
    }) as string;
    expect(crlf(ec)).toContain('\r\n');
    expect(workloadOwnerKeyHex(crlf(ec))).toBe(workloadOwnerKeyHex(ec));
    expect(seedshareOwnerKeyHex(crlf(rsa))).toBe(seedshareOwnerKeyHex(rsa));
  });

  it('sign: CRLF key, manifest and verify/latest-transition; the signature verifies, and not over another transition', async () => {
    const dir = workspace('sign');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'sec1' }) as string;
    writeFileSync(path.join(dir, 'workload-owner.pem'), crlf(pem));
    const ownerHex = workloadOwnerKeyHex(pem);
    writeFileSync(path.join(dir, 'manifest.json'), crlf(JSON.stringify(sampleManifest([ownerHex]), null, 2)));
    mkdirSync(path.join(dir, 'verify'));
    writeFileSync(path.join(dir, 'verify/latest-transition'), `${'cd'.repeat(32)}\r\n`);

    const signed = await run(createSignCommand(), dir, ['--out', 'transition.sig']);
    expect(signed.err).toBe(''); // no "not one of the manifest's WorkloadOwnerPubKeys" warning
    expect(signed.code).toBe(0);
    const prepared = await run(createSignCommand(), dir, ['--prepare', '--out', 'next-transition']);
    expect(prepared.code).toBe(0);

    // As `openssl dgst -sha256 -verify` checks it: over the prepared file (the hash in hex).
    const signature = readFileSync(path.join(dir, 'transition.sig'));
    const verifies = (message: Buffer) => createVerify('sha256').update(message).verify(publicKey, signature);
    const next = readFileSync(path.join(dir, 'next-transition'));
    expect(next.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(verifies(next)).toBe(true);
    // A different latest transition gives a different hash, which this signature does not cover.
    writeFileSync(path.join(dir, 'verify/latest-transition'), `${'ce'.repeat(32)}\r\n`);
    expect((await run(createSignCommand(), dir, ['--prepare', '--out', 'other'])).code).toBe(0);
    const other = readFileSync(path.join(dir, 'other'));
    expect(other.equals(next)).toBe(false);
    expect(verifies(other)).toBe(false);
  });

  it('recover: a CRLF seed-shares.json and key open the share (then no Coordinator answers: exit 1); a foreign key is refused with exit 2', async () => {
    const dir = workspace('recover');
    const owner = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ownerPem = owner.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string;
    const doc = createSeedShareDocument({
      seed: randomBytes(64),
      salt: randomBytes(32),
      ownerPublicKeys: [owner.publicKey],
    });
    writeFileSync(path.join(dir, 'seed-shares.json'), crlf(JSON.stringify(doc, null, 2)));
    writeFileSync(path.join(dir, 'seedshare-owner.pem'), crlf(ownerPem));
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'pem',
      type: 'pkcs1',
    });
    writeFileSync(path.join(dir, 'foreign.pem'), crlf(foreign as string));
    writeFileSync(
      path.join(dir, 'manifest.json'),
      crlf(JSON.stringify(sampleManifest([], [seedshareOwnerKeyHex(ownerPem)]), null, 2)),
    );
    const recover = createRecoverCommand({
      registry: cliPlatformRegistry({ simulatorDir: workspace('sim') }),
    });
    const address = `127.0.0.1:${await unusedPort()}`;

    const r = await run(recover, dir, ['-c', address]);
    expect(r.err).not.toMatch(/cannot open a share|not JSON|no such file/);
    expect(r.err).toContain(`Attesting the Coordinator at ${address}`);
    expect(r.code).toBe(1);

    const refused = await run(recover, dir, ['-c', address, '--seedshare-owner-key', 'foreign.pem']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/foreign\.pem cannot open a share of seed-shares\.json/);
    expect(refused.err).not.toContain('PRIVATE KEY');
  });

  const shared = sharedDir('evidence verify with CRLF collateral');
  describe.skipIf(!shared)('evidence verify on real vectors converted to CRLF', () => {
    it('TDX: CRLF issuer chains and collateral JSON verify (exit 0); a flipped quote byte is still rejected (exit 1)', async () => {
      const src = path.join(shared!, 'testvectors/tdx/dcapqvl-v4-uptodate');
      const dir = workspace('tdx');
      cpSync(src, dir, { recursive: true });
      let converted = 0;
      for (const f of readdirSync(dir).filter((n) => /\.(pem|json)$/.test(n))) {
        const file = path.join(dir, f);
        const text = readFileSync(file, 'utf8');
        writeFileSync(file, crlf(text.endsWith('\n') ? text : `${text}\n`));
        converted++;
      }
      expect(converted).toBeGreaterThanOrEqual(5);
      expect(readFileSync(path.join(dir, 'tcb_info_issuer_chain.pem'), 'utf8')).toContain('-----\r\n');
      const args = ['verify', '--tdx-quote', path.join(dir, 'quote.bin'), '--collateral', dir];
      const ok = await run(createEvidenceCommand(), dir, [...args, '--at', '2025-07-19T10:00:34Z', '--json']);
      expect(ok.code, ok.err).toBe(0);
      expect(JSON.parse(ok.out).ok).toBe(true);

      const quote = readFileSync(path.join(dir, 'quote.bin'));
      quote[200] = quote[200]! ^ 0x01;
      writeFileSync(path.join(dir, 'quote.bin'), quote);
      const bad = await run(createEvidenceCommand(), dir, [
        ...args,
        '--at',
        '2025-07-19T10:00:34Z',
        '--json',
      ]);
      expect(bad.code).toBe(1);
      expect(JSON.parse(bad.out).ok).toBe(false);
    });

    it('SNP: a CRLF certificate chain PEM verifies (exit 0); a flipped signed byte is still rejected (exit 1)', async () => {
      const src = path.join(shared!, 'testvectors/snp/oak-genoa-v5-vcek');
      const dir = workspace('snp');
      cpSync(src, dir, { recursive: true });
      writeFileSync(path.join(dir, 'cert_chain.pem'), crlf(readFileSync(path.join(dir, 'cert_chain.pem'))));
      const args = [
        'verify',
        '--snp-report',
        path.join(dir, 'report.bin'),
        '--cert',
        path.join(dir, 'vcek.der'),
        '--cert-chain',
        path.join(dir, 'cert_chain.pem'),
        '--at',
        '2025-10-01T08:00:00Z',
        '--json',
      ];
      const ok = await run(createEvidenceCommand(), dir, args);
      expect(ok.code, ok.err).toBe(0);
      // The same files by relative paths: resolved against the command's working directory.
      const relative = args.map((a) => (path.isAbsolute(a) ? path.basename(a) : a));
      const rel = await run(createEvidenceCommand(), dir, relative);
      expect(rel.code, rel.err).toBe(0);
      expect(JSON.parse(rel.out)).toEqual(JSON.parse(ok.out));

      const report = readFileSync(path.join(dir, 'report.bin'));
      report[0x90] = report[0x90]! ^ 0x01;
      writeFileSync(path.join(dir, 'report.bin'), report);
      const bad = await run(createEvidenceCommand(), dir, args);
      expect(bad.code).toBe(1);
      expect(JSON.parse(bad.out)).toMatchObject({ ok: false, reason: { code: 'signature-invalid' } });
    });
  });
});
