import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';
import { z } from 'zod';

/** What one layer does to /etc/passwd and /etc/group. */
export type EtcFileChange = { state: 'set'; content: string } | { state: 'deleted' };

export interface LayerEtcFacts {
  diff_id: string;
  /** The layer hides everything below it in /etc (opaque dir or a whiteout of /etc). */
  etc_reset: boolean;
  passwd?: EtcFileChange;
  group?: EtcFileChange;
}

const EtcFileChangeSchema = z.discriminatedUnion('state', [
  z.strictObject({ state: z.literal('set'), content: z.string() }),
  z.strictObject({ state: z.literal('deleted') }),
]);
/** A cache file as read back (another process, or a person, may have written it). */
const LayerEtcFactsSchema = z.strictObject({
  diff_id: z.string(),
  etc_reset: z.boolean(),
  passwd: EtcFileChangeSchema.optional(),
  group: EtcFileChangeSchema.optional(),
});

/**
 * On-disk cache of per-layer /etc facts keyed by diff_id: one JSON file per layer, written to a
 * temporary name and renamed into place, so concurrent writers (other processes) never leave a
 * partial file and readers never see one. A file that does not parse is ignored and rewritten.
 * A tampered cache yields a policy that trusts tampered layers: keep the directory private.
 */
export class LayerCache {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  #file(diffId: string): string {
    const hex = diffId.replace(/^sha256:/, '');
    if (!/^[a-f0-9]{64}$/.test(hex)) {
      throw new ContrastError('invalid-argument', `bad diff_id ${JSON.stringify(diffId)}`, {
        field: 'rootfs.diff_ids',
      });
    }
    return path.join(this.dir, `${hex}.json`);
  }

  async get(diffId: string): Promise<LayerEtcFacts | undefined> {
    const file = this.#file(diffId);
    try {
      // Parsed, not cast: a file of another shape is a miss (and is rewritten), never facts.
      const parsed = LayerEtcFactsSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
      return parsed.success && parsed.data.diff_id === diffId ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async put(facts: LayerEtcFacts): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = this.#file(facts.diff_id);
    const tmp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(facts), { mode: 0o600 });
    await rename(tmp, target);
  }
}
