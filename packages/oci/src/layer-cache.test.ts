import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LayerCache } from './layer-cache.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const diffId = `sha256:${'ab'.repeat(32)}`;

describe('LayerCache', () => {
  it('reads back what it wrote; a file of another shape is a miss, not facts', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'layer-cache-'));
    dirs.push(dir);
    const cache = new LayerCache(dir);
    const facts = {
      diff_id: diffId,
      etc_reset: false,
      passwd: { state: 'set' as const, content: 'root:x:0:0::/:/bin/sh\n' },
    };
    await cache.put(facts);
    expect(await cache.get(diffId)).toEqual(facts);
    // The old cast accepted this: `content` a number reached the policy's passwd parsing.
    const file = path.join(dir, `${'ab'.repeat(32)}.json`);
    await writeFile(
      file,
      JSON.stringify({ diff_id: diffId, etc_reset: false, passwd: { state: 'set', content: 5 } }),
    );
    expect(await cache.get(diffId)).toBeUndefined();
    await writeFile(file, '{"diff_id":');
    expect(await cache.get(diffId)).toBeUndefined();
  });

  it('refuses a malformed diff_id with invalid-argument', async () => {
    const cache = new LayerCache(os.tmpdir());
    await expect(cache.get('sha256:../../etc/passwd')).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});
