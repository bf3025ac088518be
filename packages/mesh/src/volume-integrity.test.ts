import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkVolumes,
  formatVolumeIntegritySpec,
  parseVolumeIntegritySpec,
  projectVolumeFiles,
  VOLUME_INTEGRITY_ENV,
  type VolumeIntegritySpec,
  type VolumeProblem,
  verifyAndCopyVolumes,
  watchVolumes,
} from './volume-integrity.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'volume-integrity-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Lays out files as kubelet's atomic writer does: the data in `..<timestamp>/`, `..data` pointing
 * at it, and one top-level symlink per first path segment.
 */
async function kubeletVolume(root: string, files: Record<string, string | Buffer>): Promise<void> {
  const ts = '..2026_12_06_18_00_00.123456789';
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, ts, rel)), { recursive: true });
    await writeFile(path.join(root, ts, rel), data);
  }
  await symlink(ts, path.join(root, '..data'));
  for (const top of new Set(Object.keys(files).map((f) => f.split('/')[0]!))) {
    await symlink(path.join('..data', top), path.join(root, top));
  }
}

const configMap = {
  data: { 'app.conf': 'listen 8080\n', 'feature.flags': 'a=1\n' },
  binaryData: { 'logo.bin': Buffer.from([0, 1, 2, 255]).toString('base64') },
};

async function setup(): Promise<{ spec: VolumeIntegritySpec; from: string; to: string }> {
  const from = path.join(dir, 'source', 'config');
  const to = path.join(dir, 'verified', 'config');
  await mkdir(from, { recursive: true });
  await kubeletVolume(from, {
    'app.conf': 'listen 8080\n',
    'feature.flags': 'a=1\n',
    'logo.bin': Buffer.from([0, 1, 2, 255]),
  });
  const spec = parseVolumeIntegritySpec(
    formatVolumeIntegritySpec({
      volumes: [
        {
          name: 'config',
          source: { kind: 'ConfigMap', name: 'app-config' },
          from,
          to,
          files: projectVolumeFiles('ConfigMap', configMap, {}),
        },
      ],
      intervalSeconds: 10,
    }),
  );
  return { spec, from, to };
}

/** The ..<timestamp> file behind a top-level key. */
const dataFile = (from: string, rel: string) => path.join(from, '..data', rel);

describe('ConfigMap/Secret volume integrity before the workload starts', () => {
  it('matching files start the workload: the checked bytes are copied with their modes', async () => {
    const { spec, to } = await setup();
    const log = createMemoryLogger();
    await expect(verifyAndCopyVolumes(spec, { logger: log.logger })).resolves.toEqual({ files: 3 });
    expect(await readFile(path.join(to, 'app.conf'), 'utf8')).toBe('listen 8080\n');
    expect([...(await readFile(path.join(to, 'logo.bin')))]).toEqual([0, 1, 2, 255]);
    expect((await stat(path.join(to, 'app.conf'))).mode & 0o777).toBe(0o644);
    expect(await checkVolumes(spec)).toEqual({ ok: true, files: 3 });
  });

  it.each([
    [
      'one changed byte',
      async (from: string) => writeFile(dataFile(from, 'app.conf'), 'listen 8081\n'),
      /volume "config" \(ConfigMap app-config\): app\.conf changed/,
      { volume: 'config', file: 'app.conf', kind: 'changed' },
    ],
    [
      'an extra file',
      async (from: string) => writeFile(path.join(from, 'injected.sh'), 'rm -rf /\n'),
      /injected\.sh is not in the policy/,
      { volume: 'config', file: 'injected.sh', kind: 'extra' },
    ],
    [
      'a missing file',
      async (from: string) => rm(path.join(from, 'feature.flags')),
      /feature\.flags is missing/,
      { volume: 'config', file: 'feature.flags', kind: 'missing' },
    ],
    [
      'a symlink out of the volume',
      async (from: string) => {
        await rm(path.join(from, 'app.conf'));
        await symlink('/etc/hostname', path.join(from, 'app.conf'));
      },
      /app\.conf is not a regular file or points outside the volume/,
      { volume: 'config', file: 'app.conf', kind: 'not-a-file' },
    ],
  ] as const)(
    '%s refuses the workload, naming the file, and copies nothing',
    async (_n, tamper, message, problem) => {
      const { spec, from, to } = await setup();
      await tamper(from);
      const err = await verifyAndCopyVolumes(spec).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'permission-denied', message: expect.stringMatching(message) });
      expect(await checkVolumes(spec)).toEqual({ ok: false, problems: [problem] });
      await expect(stat(to)).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  it('a missing volume directory is refused', async () => {
    const { spec } = await setup();
    await rm(spec.volumes[0]!.from, { recursive: true });
    await expect(verifyAndCopyVolumes(spec)).rejects.toMatchObject({
      code: 'permission-denied',
      message: expect.stringMatching(/the volume itself\) is missing/),
    });
  });

  it('items: only the listed keys, at their paths, with their modes (nested paths too)', async () => {
    const files = projectVolumeFiles(
      'Secret',
      {
        data: { password: Buffer.from('hunter2').toString('base64'), other: '' },
        stringData: { token: 't' },
      },
      {
        items: [
          { key: 'password', path: 'db/password', mode: 0o400 },
          { key: 'token', path: 'token' },
        ],
        defaultMode: 0o440,
      },
    );
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      ['db/password', 0o400],
      ['token', 0o440],
    ]);
    const from = path.join(dir, 'secret');
    const to = path.join(dir, 'secret-copy');
    await mkdir(from);
    await kubeletVolume(from, { 'db/password': 'hunter2', token: 't' });
    const spec = parseVolumeIntegritySpec(
      JSON.stringify({ volumes: [{ name: 's', source: { kind: 'Secret', name: 'db' }, from, to, files }] }),
    );
    await expect(verifyAndCopyVolumes(spec)).resolves.toEqual({ files: 2 });
    expect(await readFile(path.join(to, 'db/password'), 'utf8')).toBe('hunter2');
    expect((await stat(path.join(to, 'db/password'))).mode & 0o777).toBe(0o400);
  });

  it('projection errors name the field', () => {
    expect(() => projectVolumeFiles('Secret', { data: { a: 'not base64!' } }, {})).toThrow(
      expect.objectContaining({ field: 'data.a' }),
    );
    expect(() =>
      projectVolumeFiles('ConfigMap', { data: { a: 'x' } }, { items: [{ key: 'b', path: 'b' }] }),
    ).toThrow(expect.objectContaining({ field: 'items[0].key' }));
    expect(() =>
      projectVolumeFiles('ConfigMap', { data: { a: 'x' } }, { items: [{ key: 'a', path: '../a' }] }),
    ).toThrow(expect.objectContaining({ field: 'items[0].path' }));
    expect(() =>
      projectVolumeFiles('ConfigMap', { data: { a: 'x' }, binaryData: { a: 'eA==' } }, {}),
    ).toThrow(expect.objectContaining({ field: 'binaryData.a' }));
  });

  it('the environment value is validated, errors name the variable and field', () => {
    expect(() => parseVolumeIntegritySpec('{')).toThrow(
      expect.objectContaining({ field: VOLUME_INTEGRITY_ENV }),
    );
    const withFile = (file: object) =>
      JSON.stringify({
        volumes: [{ name: 'c', source: { kind: 'ConfigMap', name: 'x' }, from: '/v', files: [file] }],
      });
    expect(() => parseVolumeIntegritySpec(withFile({ path: 'a', sha256: 'zz', mode: 420 }))).toThrow(
      expect.objectContaining({ field: `${VOLUME_INTEGRITY_ENV}.volumes[0].files[0].sha256` }),
    );
    expect(() =>
      parseVolumeIntegritySpec(withFile({ path: '../etc/passwd', sha256: 'a'.repeat(64), mode: 420 })),
    ).toThrow(/files\[0\]\.path/);
  });
});

describe('ConfigMap/Secret volume integrity after the start', () => {
  /** A sleep the test releases: each release is one elapsed interval. */
  function steppedSleep() {
    const waiting: (() => void)[] = [];
    const intervals: number[] = [];
    let ended = false;
    const settle = async () => {
      while (waiting.length === 0 && !ended) await new Promise((r) => setImmediate(r));
    };
    return {
      intervals,
      sleep: (ms: number) =>
        new Promise<void>((resolve) => {
          intervals.push(ms);
          waiting.push(resolve);
        }),
      /** Follows the watch: resolves when it waits again or has ended. */
      follow<T>(p: Promise<T>): Promise<T> {
        return p.finally(() => {
          ended = true;
        });
      },
      /** Ends the current wait; resolves once the check that follows is done. */
      async tick() {
        await settle();
        waiting.shift()?.();
        await settle();
      },
    };
  }

  it('a change is detected at the first check after it (within one interval), naming the file', async () => {
    const { spec, from } = await setup();
    await verifyAndCopyVolumes(spec);
    const clock = steppedSleep();
    const seen: VolumeProblem[][] = [];
    const log = createMemoryLogger();
    const watching = clock.follow(
      watchVolumes(spec, {
        sleep: clock.sleep,
        logger: log.logger,
        onViolation: (p) => {
          seen.push(p);
        },
      }),
    );
    await clock.tick();
    await clock.tick();
    expect(seen).toEqual([]);
    await writeFile(dataFile(from, 'feature.flags'), 'a=2\n');
    await clock.tick();
    await watching;
    expect(seen).toEqual([[{ volume: 'config', file: 'feature.flags', kind: 'changed' }]]);
    expect(clock.intervals).toEqual([10_000, 10_000, 10_000]);
    expect(log.text()).toMatch(/feature\.flags changed/);
  });

  it('stops without a violation when aborted', async () => {
    const { spec } = await setup();
    const abort = new AbortController();
    let violations = 0;
    const watching = watchVolumes(
      { ...spec, intervalSeconds: 1 },
      {
        signal: abort.signal,
        onViolation: () => {
          violations++;
        },
      },
    );
    abort.abort();
    await watching;
    expect(violations).toBe(0);
  });
});
