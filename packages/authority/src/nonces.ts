import { randomBytes } from 'node:crypto';
import { ContrastError } from '@contrast-cc/core';

/** Single-use nonces with a lifetime, kept in memory (one replica's challenges). */
export class NonceStore {
  readonly #live = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; max?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#max = options.max ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** A fresh 32-byte nonce, valid once within the lifetime. */
  create(): Uint8Array {
    if (this.#live.size >= this.#max) this.#prune();
    if (this.#live.size >= this.#max) {
      throw new ContrastError('unavailable', 'too many outstanding challenges; retry later');
    }
    const nonce = new Uint8Array(randomBytes(32));
    this.#live.set(Buffer.from(nonce).toString('hex'), this.#now() + this.#ttlMs);
    return nonce;
  }

  /** True exactly once for a nonce this store made and that has not expired. */
  consume(nonce: Uint8Array): boolean {
    const key = Buffer.from(nonce).toString('hex');
    const expiry = this.#live.get(key);
    if (expiry === undefined) return false;
    this.#live.delete(key);
    return expiry >= this.#now();
  }

  get size(): number {
    return this.#live.size;
  }

  #prune(): void {
    const now = this.#now();
    for (const [k, exp] of this.#live) if (exp < now) this.#live.delete(k);
  }
}
