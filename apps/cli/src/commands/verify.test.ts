import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { collateralRequestOf, parseTdxQuote } from '@contrast-cc/attestation/tdx';
import { startFakePcs } from '@contrast-cc/attestation/testing';
import { describe, expect, it } from 'vitest';
import { unusedPort, useCoordinatorWorkspace } from '../test-support/coordinator.js';
import { createEvidenceCommand } from './evidence.js';
import { createSetCommand } from './set.js';
import { createVerifyCommand } from './verify.js';

const t = useCoordinatorWorkspace();

const set = (...args: string[]) => t.run(createSetCommand({ registry: t.d.registry }), args);
const verify = (...args: string[]) => t.run(createVerifyCommand({ registry: t.d.registry }), args);
const file = t.file;

const start = (policyHash?: string) => t.start(policyHash);

describe('contrast verify against an in-process Coordinator', () => {
  it('writes verify/ (CAs, history, policies, latest transition) and exits 0 for the active manifest', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const r = await verify('-c', c.address, '--insecure');
    expect(r.err).not.toMatch(/contrast verify:/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Coordinator verified \(SIMULATED: insecure\): it runs manifest\.json/);

    const state = await c.running.authority.state();
    expect(readFileSync(file('verify/coordinator-root-ca.pem'), 'utf8')).toBe(state.rootCaPem);
    expect(readFileSync(file('verify/coordinator-root-ca.pem'), 'utf8')).toBe(
      readFileSync(file('coordinator-root-ca.pem'), 'utf8'),
    );
    expect(readFileSync(file('verify/mesh-ca.pem'), 'utf8')).toBe(state.meshCaPem);
    expect(readFileSync(file('verify/latest-transition'), 'utf8').trim()).toBe(state.transitionHash);
    expect(readFileSync(file('verify/manifest.0.json')).equals(readFileSync(file('manifest.json')))).toBe(
      true,
    );
    const manifest = JSON.parse(readFileSync(file('manifest.json'), 'utf8')) as {
      Policies: Record<string, unknown>;
    };
    const policyFiles = readdirSync(file('verify'))
      .filter((f) => f.startsWith('policy.'))
      .map((f) => f.slice('policy.'.length))
      .sort();
    expect(policyFiles).toEqual(Object.keys(manifest.Policies).sort());
  });

  it('--json reports status, transition and the match', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const r = await verify('-c', c.address, '--insecure', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    expect(j).toMatchObject({ status: 'active', manifests: 1, matches: true, insecure: true });
    expect(j.transitionHash).toBe((await c.running.authority.state()).transitionHash);
  });

  it('a different active manifest: exit 1, verify/ still holds what the Coordinator runs', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const m = JSON.parse(readFileSync(file('manifest.json'), 'utf8')) as Record<string, unknown>;
    m.SeedshareOwnerPubKeys = [];
    writeFileSync(file('other.json'), JSON.stringify(m, null, 2));
    const r = await verify('-c', c.address, '--insecure', '-m', 'other.json');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/active manifest \(verify\/manifest\.0\.json\) differs from other\.json/);
    expect(readFileSync(file('verify/manifest.0.json')).equals(readFileSync(file('manifest.json')))).toBe(
      true,
    );
  });

  it('a CRLF checkout of the same manifest matches (exit 0); a CRLF copy with another value still differs', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const text = readFileSync(file('manifest.json'), 'utf8');
    expect(text).toContain('\n');
    writeFileSync(file('crlf.json'), text.replace(/\n/g, '\r\n'));
    const r = await verify('-c', c.address, '--insecure', '-m', 'crlf.json');
    expect(r.err).not.toMatch(/differs/);
    expect(r.code).toBe(0);

    const m = JSON.parse(text) as Record<string, unknown>;
    m.SeedshareOwnerPubKeys = [];
    writeFileSync(file('other-crlf.json'), JSON.stringify(m, null, 2).replace(/\n/g, '\r\n'));
    const other = await verify('-c', c.address, '--insecure', '-m', 'other-crlf.json');
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/differs from other-crlf\.json/);
  });

  it('a Coordinator without a manifest: exit 1 telling to run set', async () => {
    const c = await start();
    const r = await verify('-c', c.address, '--insecure');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no manifest yet: run "contrast set" first/);
  });
});

describe('evidence bundles: contrast verify --save-evidence, contrast evidence verify --bundle', () => {
  const evidence = (...args: string[]) => t.run(createEvidenceCommand({ registry: t.d.registry }), args);

  it('re-verifies offline (Coordinator stopped) with the same verdict and claims; a flipped byte is refused naming the part', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const live = await verify('-c', c.address, '--insecure', '--json', '--save-evidence', 'ev.json');
    expect(live.code).toBe(0);
    expect(live.err).toMatch(/Saved the evidence to ev\.json/);
    await t.stop();

    const again = await evidence('verify', '--bundle', 'ev.json', '--insecure', '--json');
    expect(again.err).not.toMatch(/contrast evidence verify:/);
    expect(again.code).toBe(0);
    const a = JSON.parse(live.out) as Record<string, unknown>;
    expect(JSON.parse(again.out)).toEqual(a);
    expect(a).toMatchObject({ ok: true, matches: true, insecure: true, claims: { kind: 'tdx-quote' } });
    const human = await evidence('verify', '--bundle', 'ev.json', '--insecure');
    expect(human.out).toMatch(
      /^Bundle verified \(SIMULATED: insecure\): the Coordinator at 127\.0\.0\.1:\d+ ran manifest [0-9a-f]{64}/,
    );

    // Without --insecure: refused as any simulated manifest is.
    expect((await evidence('verify', '--bundle', 'ev.json')).code).toBe(2);

    // One flipped byte in each part: exit 2, the part named; the bundle otherwise intact.
    const text = readFileSync(file('ev.json'), 'utf8');
    const lines = text.split('\n');
    for (const [i, line] of lines.entries()) {
      const key = /^"([a-z_]+)": /.exec(line)?.[1];
      if (!key) continue;
      const at = lines.slice(0, i).join('\n').length + 1 + Math.floor(line.length * 0.6);
      const bytes = Buffer.from(text);
      bytes[at]! ^= 0x01;
      writeFileSync(file('bad.json'), bytes);
      const r = await evidence('verify', '--bundle', 'bad.json', '--insecure');
      expect(r.code, `${key}: ${r.err}`).toBe(2);
      // A flipped byte in the checksums line changes one part's checksum: either may be named.
      const named = key === 'checksums' ? '[a-z_]+' : key;
      expect(r.err).toMatch(new RegExp(`bad\\.json: bundle part "${named}" is damaged`));
    }
  });
});

describe('contrast verify refuses bad input and untrusted Coordinators', () => {
  it('a missing manifest: exit 2 naming the file', async () => {
    const c = await start();
    const r = await verify('-c', c.address, '--insecure', '-m', 'gone.json');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/gone\.json: no such file/);
  });

  it('nothing listening at the address: exit 1 with a clear message', async () => {
    const port = await unusedPort();
    const r = await verify('-c', `127.0.0.1:${port}`, '--insecure');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`contrast verify: .*127\\.0\\.0\\.1:${port}`));
  });

  it('simulated platforms without --insecure: exit 2, nothing contacted', async () => {
    const c = await start();
    const r = await verify('-c', c.address);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/pass --insecure/);
  });

  it('a Coordinator with another measurement or policy is refused; verify/ is not written', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const m = JSON.parse(readFileSync(file('manifest.json'), 'utf8')) as {
      ReferenceValues: { tdx: { MrTd: string }[] };
    };
    for (const rv of m.ReferenceValues.tdx) rv.MrTd = 'ee'.repeat(48);
    writeFileSync(file('measured.json'), JSON.stringify(m));
    const wrongMeasurement = await verify('-c', c.address, '--insecure', '-m', 'measured.json');
    expect(wrongMeasurement.code).toBe(1);
    expect(readdirSync(t.dir)).not.toContain('verify');

    await t.stop();
    const impostor = await start(t.d.workloadPolicy);
    const wrongPolicy = await verify('-c', impostor.address, '--insecure');
    expect(wrongPolicy.code).toBe(1);
    expect(wrongPolicy.err).toMatch(/polic/i);
    expect(readdirSync(t.dir)).not.toContain('verify');
  });
});

describe('global flags (through runCli)', () => {
  it('--workspace-dir: the default manifest.json and verify/ live there; --log-level debug shows library lines', async () => {
    const { mkdirSync, copyFileSync, existsSync } = await import('node:fs');
    const { runCli } = await import('../cli.js');
    const { captureIo } = await import('../test-support/harness.js');
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    mkdirSync(file('ws'));
    copyFileSync(file('manifest.json'), file('ws/manifest.json'));
    const entry = {
      name: 'verify',
      summary: 'verify',
      load: async () => createVerifyCommand({ registry: t.d.registry }),
    };
    const cap = captureIo(t.dir);
    const code = await runCli(
      ['--log-level', 'debug', 'verify', '-c', c.address, '--insecure', '--workspace-dir', 'ws'],
      cap.io,
      [entry],
    );
    expect(cap.err()).not.toMatch(/contrast verify:/);
    expect(code).toBe(0);
    expect(cap.out()).toMatch(/it runs ws[/\\]manifest\.json/);
    expect(existsSync(file('ws/verify/manifest.0.json'))).toBe(true);
    expect(cap.err()).toMatch(/^\[debug\] /m);
    // Without --log-level: warn and above only, so no debug lines.
    const quiet = captureIo(t.dir);
    expect(
      await runCli(['verify', '-c', c.address, '--insecure', '--workspace-dir=ws'], quiet.io, [entry]),
    ).toBe(0);
    expect(quiet.err()).not.toMatch(/^\[debug\] /m);
    // A workspace without manifest.json: bad input naming the file.
    mkdirSync(file('empty'));
    const missing = captureIo(t.dir);
    expect(
      await runCli(['verify', '-c', c.address, '--insecure', '--workspace-dir', 'empty'], missing.io, [
        entry,
      ]),
    ).toBe(2);
    expect(missing.err()).toMatch(/empty[/\\]manifest\.json/);
  });
});

describe('contrast verify --kds-url / --pcs-url', () => {
  const verifyOn = (...args: string[]) =>
    t.run(createVerifyCommand({ registry: t.d.registry, registryFor: t.d.registryFor }), args);

  it("fetches the collateral the Coordinator's quote lacks from the given PCS (a PCCS), and fails closed when it cannot", async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const quote = (await t.d.issuerFor(t.d.coordinatorPolicy).issue(new Uint8Array(64))).data;
    const pcs = await startFakePcs([
      {
        fmspc: collateralRequestOf(parseTdxQuote(quote)).fmspc,
        collateral: await t.d.tdxSimulator.createCollateral(),
      },
    ]);
    try {
      const r = await verifyOn('-c', c.address, '--insecure', '--pcs-url', pcs.url);
      expect(r.err).not.toMatch(/contrast verify:/);
      expect(r.code).toBe(0);
      expect(pcs.requests.some((q) => q.startsWith('/tdx/certification/v4/tcb?fmspc='))).toBe(true);
      expect(pcs.requests.some((q) => q.startsWith('/tdx/certification/v4/qe/identity'))).toBe(true);

      // The PCCS has nothing for this platform: the Coordinator is not taken as verified.
      pcs.failWith = 404;
      const refused = await verifyOn('-c', c.address, '--insecure', '--pcs-url', pcs.url);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/collateral/i);
      expect(refused.err).toContain(pcs.url);
    } finally {
      await pcs.close();
    }
  });

  it('a bad URL is a usage error naming the flag (exit 2), before anything is contacted', async () => {
    const r = await verifyOn('-c', '127.0.0.1:1', '--insecure', '--kds-url', 'ftp://kds.example');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--kds-url "ftp:\/\/kds\.example" must be an http\(s\) URL/);
    const bad = await verifyOn('-c', '127.0.0.1:1', '--insecure', '--pcs-url', 'not a url');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--pcs-url "not a url" is not a URL/);
  });
});
