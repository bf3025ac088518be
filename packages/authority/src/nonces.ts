import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';

/** Options of {@link NonceStore}. */
export interface NonceStoreOptions {
  /** Lifetime of a nonce (ms). Default 60 s. */
  ttlMs?: number;
  /** Outstanding nonces of all clients together. Default 100,000. */
  max?: number;
  /** Outstanding nonces of one client. Default 1,000. */
  maxPerClient?: number;
  now?: () => number;
}

/** The client a nonce is counted against when the caller names none. */
const UNKNOWN_CLIENT = 'unknown';

/**
 * The key a client's nonces are counted under: its IPv4 address, or the /64 prefix of its IPv6
 * address (one host usually owns a whole /64). IPv4-mapped IPv6 counts as IPv4.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return UNKNOWN_CLIENT;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Single-use nonces with a lifetime, kept in memory (one replica's challenges), counted per
 * client. Creating never fails: a client over its own share loses its own oldest nonce, and when
 * all clients together are over the total, the client holding the most loses its oldest. So a
 * flood of challenges from one client can only displace that client's nonces, never a
 * legitimate initializer's (the store once held one pool of 100,000 for everyone: one client
 * filled it in seconds and every other got 503 for the next minute).
 */
export class NonceStore {
  /** nonce (hex) -> its client. */
  readonly #owner = new Map<string, string>();
  /** client -> its nonces (hex) -> expiry, oldest first. */
  readonly #byClient = new Map<string, Map<string, number>>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #maxPerClient: number;
  readonly #now: () => number;
  #evicted = 0;

  constructor(options: NonceStoreOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#max = options.max ?? 100_000;
    this.#maxPerClient = Math.min(options.maxPerClient ?? 1_000, this.#max);
    this.#now = options.now ?? Date.now;
  }

  /** A fresh 32-byte nonce for `client` (an address, see {@link clientKey}), valid once within the lifetime. */
  create(client?: string): Uint8Array {
    const key = clientKey(client);
    let own = this.#byClient.get(key);
    if (!own) {
      own = new Map();
      this.#byClient.set(key, own);
    }
    this.#dropExpired(own);
    if (own.size >= this.#maxPerClient) this.#evictOldest(key, own);
    if (this.#owner.size >= this.#max) {
      for (const [k, m] of this.#byClient) this.#dropExpired(m, k);
    }
    if (this.#owner.size >= this.#max) {
      let largest: [string, Map<string, number>] = [key, own];
      for (const entry of this.#byClient) if (entry[1].size > largest[1].size) largest = entry;
      this.#evictOldest(...largest);
    }
    // The sweeps above drop a client whose list became empty: this one stays.
    this.#byClient.set(key, own);
    const nonce = new Uint8Array(randomBytes(32));
    const hex = Buffer.from(nonce).toString('hex');
    own.set(hex, this.#now() + this.#ttlMs);
    this.#owner.set(hex, key);
    return nonce;
  }

  /** True exactly once for a nonce this store made and that has neither expired nor been evicted. */
  consume(nonce: Uint8Array): boolean {
    const hex = Buffer.from(nonce).toString('hex');
    const key = this.#owner.get(hex);
    if (key === undefined) return false;
    this.#owner.delete(hex);
    const own = this.#byClient.get(key)!;
    const expiry = own.get(hex)!;
    own.delete(hex);
    if (own.size === 0) this.#byClient.delete(key);
    return expiry >= this.#now();
  }

  /** Outstanding nonces. */
  get size(): number {
    return this.#owner.size;
  }

  /** Nonces dropped to make room since the store was made (a flood shows here). */
  get evicted(): number {
    return this.#evicted;
  }

  /** Drops the expired nonces at the front of one client's list (they expire in creation order). */
  #dropExpired(own: Map<string, number>, key?: string): void {
    const now = this.#now();
    for (const [hex, expiry] of own) {
      if (expiry >= now) break;
      own.delete(hex);
      this.#owner.delete(hex);
    }
    if (key !== undefined && own.size === 0) this.#byClient.delete(key);
  }

  #evictOldest(key: string, own: Map<string, number>): void {
    const oldest = own.keys().next();
    if (oldest.done) return;
    own.delete(oldest.value);
    this.#owner.delete(oldest.value);
    this.#evicted++;
    if (own.size === 0) this.#byClient.delete(key);
  }
}
