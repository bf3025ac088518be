import { ContrastError } from '@contrast-cc/core';
import type { ImageFacts, ImageSource } from '../types.js';

/**
 * An image source backed by recorded facts keyed by image reference (as written in the pod
 * spec). Used for offline tests and the Kata conformance suite.
 */
export class RecordedImageSource implements ImageSource {
  readonly #facts: ReadonlyMap<string, ImageFacts>;
  readonly resolved: string[] = [];

  constructor(facts: Record<string, ImageFacts> | ReadonlyMap<string, ImageFacts>) {
    this.#facts = facts instanceof Map ? facts : new Map(Object.entries(facts));
  }

  async resolve(ref: string): Promise<ImageFacts> {
    const facts = this.#facts.get(ref);
    if (!facts) {
      throw new ContrastError('not-found', `no recorded facts for image ${JSON.stringify(ref)}`, {
        field: 'image',
      });
    }
    this.resolved.push(ref);
    return structuredClone(facts);
  }
}
