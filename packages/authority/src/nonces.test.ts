import { describe, expect, it } from 'vitest';
import { clientKey, NonceStore } from './nonces.js';

describe('NonceStore', () => {
  it('accepts each nonce once, within its lifetime', () => {
    let now = 1_000;
    const store = new NonceStore({ ttlMs: 100, now: () => now });
    const a = store.create('10.0.0.1');
    const b = store.create('10.0.0.1');
    expect(store.consume(a)).toBe(true);
    expect(store.consume(a)).toBe(false);
    now += 101;
    expect(store.consume(b)).toBe(false);
    expect(store.consume(new Uint8Array(32))).toBe(false);
    expect(store.size).toBe(0);
  });

  it('a flood from one client never costs another client its nonce or a 503', () => {
    // The old store: one pool of `max` for everyone, and `create` threw `unavailable` when full.
    const store = new NonceStore({ max: 1_000, maxPerClient: 100 });
    const legit = store.create('10.0.0.7');
    for (let i = 0; i < 50_000; i++) store.create('10.0.0.66');
    expect(store.size).toBeLessThanOrEqual(101);
    expect(store.evicted).toBeGreaterThan(49_000);
    // A fresh client still gets nonces, and the one taken before the flood still works.
    const late = store.create('10.0.0.8');
    expect(store.consume(legit)).toBe(true);
    expect(store.consume(late)).toBe(true);
  });

  it('when many clients fill the total, the largest holder loses its oldest nonce', () => {
    const store = new NonceStore({ max: 300, maxPerClient: 200 });
    const attacker = Array.from({ length: 200 }, () => store.create('10.0.0.66'));
    const others = Array.from({ length: 100 }, (_, i) => store.create(`10.0.1.${i}`));
    expect(store.size).toBe(300);
    const newcomer = store.create('10.0.2.1');
    expect(store.size).toBe(300);
    expect(store.consume(attacker[0]!)).toBe(false); // the largest holder's oldest went
    expect(store.consume(attacker[1]!)).toBe(true);
    for (const n of others) expect(store.consume(n)).toBe(true);
    expect(store.consume(newcomer)).toBe(true);
  });

  it('expired nonces make room before anything is evicted', () => {
    let now = 0;
    const store = new NonceStore({ ttlMs: 10, max: 10, maxPerClient: 10, now: () => now });
    for (let i = 0; i < 10; i++) store.create('a');
    now = 20;
    const fresh = Array.from({ length: 10 }, () => store.create('b'));
    expect(store.evicted).toBe(0);
    for (const n of fresh) expect(store.consume(n)).toBe(true);
  });
});

describe('clientKey', () => {
  it('groups by IPv4 address and IPv6 /64', () => {
    expect(clientKey('10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:0db8:0000:0001:bbbb:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey(undefined)).toBe('unknown');
  });
});
