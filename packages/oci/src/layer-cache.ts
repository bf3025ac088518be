import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** What one layer does to /etc/passwd and /etc/group. */
export type EtcFileChange = { state: 'set'; content: string } | { state: 'deleted' };

export interface LayerEtcFacts {
  diff_id: string;
  /** The layer hides everything below it in /etc (opaque dir or a whiteout of /etc). */
  etc_reset: boolean;
  passwd?: EtcFileChange;
  group?: EtcFileChange;
}

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
    if (!/^[a-f0-9]{64}$/.test(hex)) throw new Error(`bad diff_id ${diffId}`);
    return path.join(this.dir, `${hex}.json`);
  }

  async get(diffId: string): Promise<LayerEtcFacts | undefined> {
    try {
      const v = JSON.parse(await readFile(this.#file(diffId), 'utf8')) as LayerEtcFacts;
      return v.diff_id === diffId && typeof v.etc_reset === 'boolean' ? v : undefined;
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
