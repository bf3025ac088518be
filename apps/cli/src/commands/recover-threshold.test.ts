// contrast recover with a k-of-n split seed (SeedshareThreshold 2, three owners): each owner
// decrypts their share offline (--decrypt-share), any two share files recover the Coordinator
// (--share), and too few / duplicate / tampered / foreign share files are refused, each with its
// own message naming the file.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import {
  createSeedShareDocument,
  generateSalt,
  generateSeed,
  releaseSeedShare,
  seedShareOwnerKey,
} from '@contrast-cc/certs';
import { canonicalManifestJson, parseManifest, seedshareOwnerKeyHex } from '@contrast-cc/manifest';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TestCoordinator, useCoordinatorWorkspace } from '../test-support/coordinator.js';
import { createRecoverCommand } from './recover.js';
import { createSetCommand } from './set.js';
import { createVerifyCommand } from './verify.js';

const t = useCoordinatorWorkspace();
const set = (...args: string[]) => t.run(createSetCommand({ registry: t.d.registry }), args);
const verify = (...args: string[]) => t.run(createVerifyCommand({ registry: t.d.registry }), args);
const recover = (...args: string[]) => t.run(createRecoverCommand({ registry: t.d.registry }), args);

const names = ['alice', 'bob', 'carol'] as const;
const pems: Record<string, string> = {};
beforeAll(() => {
  for (const n of names) {
    pems[n] = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'pem',
      type: 'pkcs1',
    }) as string;
  }
});

/** Three seed-share owners and k = 2 in the workspace's manifest, set, then a restart: stale. */
async function splitThenRestart(): Promise<TestCoordinator> {
  for (const n of names) writeFileSync(t.file(`${n}.pem`), pems[n]!, { mode: 0o600 });
  const { manifest } = parseManifest(readFileSync(t.file('manifest.json')));
  manifest.SeedshareOwnerPubKeys = names.map((n) => seedshareOwnerKeyHex(pems[n]!));
  manifest.SeedshareThreshold = 2;
  writeFileSync(t.file('manifest.json'), canonicalManifestJson(manifest));
  const first = await t.start();
  const setOut = await set('-c', first.address, '--insecure', 'deployment/');
  expect(setOut.code).toBe(0);
  expect(setOut.out).toContain(
    'seed-shares.json (split 2-of-3: any 2 owners together recover the Coordinator, each first runs "contrast recover --decrypt-share")',
  );
  const doc = JSON.parse(readFileSync(t.file('seed-shares.json'), 'utf8'));
  expect(doc.Threshold).toBe(2);
  expect(doc.SeedShares).toHaveLength(3);
  await t.stop();
  const c = await t.start();
  expect(c.running.authority.status).toBe('stale');
  return c;
}

/** `contrast recover --decrypt-share` for one owner: exit 0, the file written 0600. */
async function decrypt(owner: string): Promise<string> {
  const out = `share-${owner}.json`;
  const r = await recover('--decrypt-share', '--seedshare-owner-key', `${owner}.pem`, '-o', out);
  expect(r.err).not.toMatch(/contrast recover:/);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/Wrote your share \(sha256:[0-9a-f]{16}, 2 of 3 needed\)/);
  expect(r.err).toMatch(/is secret: 2 such files recover the seed/);
  if (process.platform !== 'win32') expect(statSync(t.file(out)).mode & 0o777).toBe(0o600);
  return out;
}

describe('contrast recover, 2 of 3 owners', () => {
  it('any 2 owners recover the Coordinator to the same root CA; 1 alone is refused (exit 2), the Coordinator stays stale', async () => {
    const c = await splitThenRestart();
    const root = new X509Certificate(readFileSync(t.file('coordinator-root-ca.pem')));
    const [alice, bob, carol] = [await decrypt('alice'), await decrypt('bob'), await decrypt('carol')];

    // One owner's key alone: the split is named and the two steps are shown.
    const alone = await recover('-c', c.address, '--insecure', '--seedshare-owner-key', 'alice.pem');
    expect(alone.code).toBe(2);
    expect(alone.err).toMatch(/the seed is split 2-of-3 \(seed-shares\.json\): no owner recovers alone/);
    // One share file.
    const one = await recover('-c', c.address, '--insecure', '--share', bob);
    expect(one.code).toBe(2);
    expect(one.err).toContain('contrast recover: 2 of 3 shares needed, 1 given');
    expect(c.running.authority.status).toBe('stale');

    const r = await recover('-c', c.address, '--insecure', '--share', carol, '--share', alice);
    expect(r.err).not.toMatch(/contrast recover:/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Successfully recovered/);
    const state = await c.running.authority.state();
    expect(state.status).toBe('active');
    expect(new X509Certificate(state.rootCaPem!).publicKey.equals(root.publicKey)).toBe(true);
    expect((await verify('-c', c.address, '--insecure')).code).toBe(0);
    // No share bytes on any output.
    const share = JSON.parse(readFileSync(t.file(bob), 'utf8')) as { share: string; salt: string };
    for (const text of [r.out, r.err, one.out, one.err]) {
      expect(text).not.toContain(share.share.slice(0, 16));
    }

    // The other pairs, each after another restart.
    for (const pair of [
      [alice, bob],
      [bob, carol],
    ]) {
      await t.stop();
      const again = await t.start();
      expect(again.running.authority.status).toBe('stale');
      const ok = await recover('-c', again.address, '--insecure', '--share', pair[0]!, '--share', pair[1]!);
      expect(ok.code).toBe(0);
      const s = await again.running.authority.state();
      expect(new X509Certificate(s.rootCaPem!).publicKey.equals(root.publicKey)).toBe(true);
    }
  }, 120_000);

  it('a duplicate, a tampered, a foreign share file: exit 2 each, naming the file; a whole set of another seed: refused by the Coordinator (exit 1)', async () => {
    const c = await splitThenRestart();
    const alice = await decrypt('alice');
    const bob = await decrypt('bob');

    const dup = await recover('-c', c.address, '--insecure', '--share', alice, '--share', alice);
    expect(dup.code).toBe(2);
    expect(dup.err).toMatch(
      /--share share-alice\.json \(owner sha256:[0-9a-f]{16}\): the same owner's share as --share share-alice\.json/,
    );

    const doc = JSON.parse(readFileSync(t.file(bob), 'utf8')) as { share: string };
    const bytes = Buffer.from(doc.share, 'base64');
    bytes[20]! ^= 1;
    writeFileSync(
      t.file('share-bob-tampered.json'),
      JSON.stringify({ ...doc, share: bytes.toString('base64') }),
    );
    const tampered = await recover(
      '-c',
      c.address,
      '--insecure',
      '--share',
      alice,
      '--share',
      'share-bob-tampered.json',
    );
    expect(tampered.code).toBe(2);
    expect(tampered.err).toMatch(
      /--share share-bob-tampered\.json \(owner sha256:[0-9a-f]{16}\): the owner's signature does not verify/,
    );

    // Shares of another seed of the same three owners (another deployment, an earlier generation).
    const other = createSeedShareDocument({
      seed: generateSeed(),
      salt: generateSalt(),
      ownerPublicKeys: names.map((n) => seedShareOwnerKey(seedshareOwnerKeyHex(pems[n]!))),
      threshold: 2,
    });
    for (const n of ['bob', 'carol']) {
      writeFileSync(t.file(`old-${n}.json`), JSON.stringify(releaseSeedShare(other, pems[n]!)));
    }
    const foreign = await recover('-c', c.address, '--insecure', '--share', alice, '--share', 'old-bob.json');
    expect(foreign.code).toBe(2);
    expect(foreign.err).toMatch(
      /--share old-bob\.json \(owner sha256:[0-9a-f]{16}\): a share of another seed \(its salt differs from seed-shares\.json's\)/,
    );
    // Without the workspace's seed-shares.json the CLI cannot tell; the Coordinator can (exit 1).
    const elsewhere = await recover(
      '-c',
      c.address,
      '--insecure',
      '--seed',
      'absent.json',
      '--share',
      'old-bob.json',
      '--share',
      'old-carol.json',
    );
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toMatch(
      /the Coordinator refused recovery \(permission_denied\): the shares are of another seed/,
    );
    // A file that is not a share file.
    writeFileSync(t.file('junk.json'), JSON.stringify({ version: 'v1', salt: 'x' }));
    const junk = await recover('-c', c.address, '--insecure', '--share', alice, '--share', 'junk.json');
    expect(junk.code).toBe(2);
    expect(junk.err).toMatch(/--share junk\.json: salt: must be standard base64/);
    expect(c.running.authority.status).toBe('stale');
  }, 120_000);

  it('--decrypt-share: -o required, a missing or 1-of-n seed-shares.json refused; nothing written', async () => {
    const none = await recover('--decrypt-share');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/--decrypt-share needs -o <file>/);
    // The template's seed-shares.json does not exist yet: the first set writes it.
    const missing = await recover('--decrypt-share', '-o', 'x.json');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--seed seed-shares\.json: no such file/);
    const first = await t.start();
    expect((await set('-c', first.address, '--insecure', 'deployment/')).code).toBe(0);
    const whole = await recover('--decrypt-share', '-o', 'x.json');
    expect(whole.code).toBe(2);
    expect(whole.err).toMatch(/not split \(no Threshold above 1\)/);
    expect(existsSync(t.file('x.json'))).toBe(false);
    await t.stop();
  }, 120_000);
});
