import { ContrastError } from '@contrast-cc/core';
import type { ImageFacts, ImageSource } from '../types.js';

/**
 * An image source backed by recorded facts keyed by image reference (as written in the pod
 * spec). Used for offline tests, the Kata conformance suite and `CONTRAST_IMAGE_FACTS`.
 *
 * A reference is looked up as written, then among the recorded facts' pinned `reference`s; a
 * reference with a digest that is recorded neither way falls back to the facts of its tag (the
 * part before `@`), which keep their own `digest`: the caller compares it with the pinned one
 * (generation refuses a mismatch), as a registry client would report the digest it resolved.
 */
export class RecordedImageSource implements ImageSource {
  readonly #facts: ReadonlyMap<string, ImageFacts>;
  readonly #byReference = new Map<string, ImageFacts>();
  readonly resolved: string[] = [];

  constructor(facts: Record<string, ImageFacts> | ReadonlyMap<string, ImageFacts>) {
    this.#facts = facts instanceof Map ? facts : new Map(Object.entries(facts));
    for (const f of this.#facts.values()) {
      if (typeof f.reference === 'string' && !this.#byReference.has(f.reference)) {
        this.#byReference.set(f.reference, f);
      }
    }
  }

  async resolve(ref: string): Promise<ImageFacts> {
    const at = ref.indexOf('@');
    const facts =
      this.#facts.get(ref) ??
      this.#byReference.get(ref) ??
      (at > 0 ? this.#facts.get(ref.slice(0, at)) : undefined);
    if (!facts) {
      throw new ContrastError('not-found', `no recorded facts for image ${JSON.stringify(ref)}`, {
        field: 'image',
      });
    }
    this.resolved.push(ref);
    return structuredClone(facts);
  }
}
