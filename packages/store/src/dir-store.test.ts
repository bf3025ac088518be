import { mkdtemp, readdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryHistoryStore } from './dir-store.js';
import { describeHistoryStoreConformance, expectCode } from './test-support/conformance.js';
import type { BlobKind } from './types.js';

const KIND_DIR: Record<BlobKind, string> = {
  manifest: 'manifests',
  policy: 'policies',
  transition: 'transitions',
};

describeHistoryStoreConformance('directory', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'contrast-store-'));
  return {
    open: () => DirectoryHistoryStore.open(root, { pollIntervalMs: 100 }),
    corruptBlob: (kind, hash) => writeFile(path.join(root, KIND_DIR[kind], hash), 'corrupted bytes'),
    removeBlob: (kind, hash) => unlink(path.join(root, KIND_DIR[kind], hash)),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('DirectoryHistoryStore on disk', () => {
  const roots: string[] = [];
  const fresh = async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'contrast-store-'));
    roots.push(root);
    return root;
  };
  afterEach(async () => {
    for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
  });

  it('uses the documented layout and leaves no temp files', async () => {
    const root = await fresh();
    const store = await DirectoryHistoryStore.open(root);
    const hash = await store.putBlob('policy', new TextEncoder().encode('p'));
    const th = 'ab'.repeat(32);
    await store.setLatest({ transitionHash: th, signature: new Uint8Array([1, 2, 3]) }, null);
    expect((await readdir(root)).sort()).toEqual(['latest', 'manifests', 'policies', 'transitions']);
    expect(await readdir(path.join(root, 'policies'))).toEqual([hash]);
    expect(await readdir(path.join(root, 'latest'))).toEqual(['0000000000000001']);
    // The pointer file is upstream's form: 32-byte transition hash || signature.
    const raw = await readFile(path.join(root, 'latest', '0000000000000001'));
    expect(raw.toString('hex')).toBe(`${th}010203`);
    expect((await stat(path.join(root, 'latest', '0000000000000001'))).mode & 0o777).toBe(0o600);
    await store.close();
  });

  it('removes stale temp files on open but keeps fresh ones (another process may be writing)', async () => {
    const root = await fresh();
    await (await DirectoryHistoryStore.open(root)).close();
    const old = path.join(root, 'manifests', '.tmp-1-old');
    const young = path.join(root, 'latest', '.tmp-2-young');
    await writeFile(old, 'partial');
    await writeFile(young, 'partial');
    const past = new Date(Date.now() - 3600_000);
    await utimes(old, past, past);
    const store = await DirectoryHistoryStore.open(root);
    expect(await readdir(path.join(root, 'manifests'))).toEqual([]);
    expect(await readdir(path.join(root, 'latest'))).toEqual(['.tmp-2-young']);
    expect(await store.getLatest()).toBeNull();
    await store.close();
  });

  it('reports a truncated pointer file as corruption, naming it', async () => {
    const root = await fresh();
    const store = await DirectoryHistoryStore.open(root);
    await writeFile(path.join(root, 'latest', '0000000000000001'), Buffer.alloc(10));
    await expectCode(store.getLatest(), 'validation-failed', 'latest/1');
    await store.close();
  });

  it('refuses bad arguments and use after close', async () => {
    await expectCode(DirectoryHistoryStore.open(''), 'invalid-argument', 'root');
    const store = await DirectoryHistoryStore.open(await fresh());
    await expectCode(
      store.setLatest({ transitionHash: 'ab'.repeat(32), signature: new Uint8Array([1]) }, '01'),
      'invalid-argument',
      'expectedVersion',
    );
    await store.close();
    await expectCode(store.getLatest(), 'precondition-failed');
  });
});
