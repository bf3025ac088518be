import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskCache } from './cache.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('DiskCache', () => {
  it('reads back what it stored, and treats a metadata file of the wrong shape as a miss', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'disk-cache-'));
    dirs.push(dir);
    let now = 1_000;
    const cache = new DiskCache(dir, { now: () => now });
    await cache.set('k', new Uint8Array([1, 2, 3]), { ttlMs: 100 });
    expect((await cache.get('k'))?.body).toEqual(new Uint8Array([1, 2, 3]));
    now += 200;
    expect(await cache.get('k')).toBeUndefined();
    // Another process (or a person) left metadata with a string where a number belongs: before,
    // the cast let `expiresAt: "never"` through as a fresh entry forever.
    const base = path.join(dir, createHash('sha256').update('k').digest('hex'));
    await writeFile(`${base}.json`, JSON.stringify({ key: 'k', storedAt: 0, expiresAt: 'never' }));
    expect(await cache.get('k')).toBeUndefined();
    await writeFile(`${base}.json`, JSON.stringify({ key: 'k', storedAt: now }));
    expect((await cache.get('k'))?.body).toEqual(new Uint8Array([1, 2, 3]));
  });
});
