import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { isContrastError } from '@contrast-cc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { History } from '../history.js';
import type { BlobKind, HistoryStore, SignedLatest, VersionedLatest } from '../types.js';

/** A backend under test: `open()` gives a new client on the SAME backing (another replica). */
export interface StoreHarness {
  open(): Promise<HistoryStore>;
  /** Overwrites a stored blob with other bytes, behind the store's back. */
  corruptBlob(kind: BlobKind, hash: string): Promise<void>;
  /** Removes a stored blob behind the store's back. */
  removeBlob(kind: BlobKind, hash: string): Promise<void>;
  cleanup(): Promise<void>;
}

const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const enc = (text: string) => new TextEncoder().encode(text);

/** A real ECDSA P-384 signer/verifier pair over the raw transition hash. */
export function testSigner() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  return {
    sign: (hash: Uint8Array) => new Uint8Array(sign('sha384', hash, privateKey)),
    verify: (hash: Uint8Array, sig: Uint8Array) => verify('sha384', hash, publicKey, sig),
    signWithOtherKey: (hash: Uint8Array) => new Uint8Array(sign('sha384', hash, other.privateKey)),
  };
}

export async function expectCode(promise: Promise<unknown>, code: string, field?: string): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(isContrastError(error), `expected a ContrastError ${code}, got ${String(error)}`).toBe(true);
  if (!isContrastError(error)) return;
  expect(error.code).toBe(code);
  if (field !== undefined) expect(error.field).toBe(field);
}

function pointer(label: string): SignedLatest {
  return { transitionHash: sha(label), signature: enc(`sig-${label}`) };
}

/**
 * Waits until `check` holds, polling: a predicate (returns `false` until then) or an assertion
 * (throws until then; may be async). When the time is up: the assertion's last failure, or
 * "condition not reached in time".
 */
export async function eventually(check: () => unknown, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  for (;;) {
    let failure: unknown;
    try {
      if ((await check()) !== false) return;
    } catch (error) {
      failure = error;
    }
    if (Date.now() - start > timeoutMs) throw failure ?? new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The contract every HistoryStore backend must meet: content addressing with verified reads,
 * compare-and-swap of the latest pointer between replicas, watch across replicas, chain walking.
 */
export function describeHistoryStoreConformance(
  name: string,
  makeHarness: () => Promise<StoreHarness>,
): void {
  describe(`HistoryStore conformance: ${name}`, () => {
    let harness: StoreHarness;
    const opened: HistoryStore[] = [];
    const open = async () => {
      const s = await harness.open();
      opened.push(s);
      return s;
    };
    beforeAll(async () => {
      harness = await makeHarness();
    });
    afterAll(async () => {
      for (const s of opened) await s.close();
      await harness.cleanup();
    });

    describe('blobs', () => {
      it('stores bytes under their sha256 and reads them back from another replica', async () => {
        const a = await open();
        const b = await open();
        const bytes = enc('{"Policies":{}}');
        const hash = await a.putBlob('manifest', bytes);
        expect(hash).toBe(sha(bytes));
        expect(await b.getBlob('manifest', hash)).toEqual(bytes);
        expect(await b.hasBlob('manifest', hash)).toBe(true);
        expect(await a.putBlob('manifest', bytes)).toBe(hash);
      });

      it('keeps kinds apart', async () => {
        const s = await open();
        const hash = await s.putBlob('policy', enc('policy only'));
        expect(await s.hasBlob('manifest', hash)).toBe(false);
        await expectCode(s.getBlob('manifest', hash), 'not-found', `manifest/${hash}`);
        expect(await s.getBlob('policy', hash)).toEqual(enc('policy only'));
      });

      it('stores empty and binary blobs byte-exact', async () => {
        const s = await open();
        const binary = new Uint8Array(4096).map((_, i) => (i * 131) & 0xff);
        for (const bytes of [new Uint8Array(0), binary]) {
          const hash = await s.putBlob('policy', bytes);
          expect(await s.getBlob('policy', hash)).toEqual(bytes);
        }
      });

      it('refuses malformed hashes and kinds, naming the field', async () => {
        const s = await open();
        await expectCode(s.getBlob('manifest', 'ABC'), 'invalid-argument', 'hash');
        await expectCode(s.getBlob('manifest', sha('x').toUpperCase()), 'invalid-argument', 'hash');
        await expectCode(s.getBlob('manifests' as BlobKind, sha('x')), 'invalid-argument', 'kind');
        await expectCode(s.putBlob('manifest', 'text' as unknown as Uint8Array), 'invalid-argument', 'bytes');
        await expectCode(s.getBlob('transition', sha('never stored')), 'not-found');
      });

      it('detects a corrupted blob on read, and putBlob repairs it', async () => {
        const s = await open();
        const bytes = enc('manifest to be corrupted');
        const hash = await s.putBlob('manifest', bytes);
        await harness.corruptBlob('manifest', hash);
        await expectCode(s.getBlob('manifest', hash), 'validation-failed', `manifest/${hash}`);
        const other = await open();
        await expectCode(other.getBlob('manifest', hash), 'validation-failed', `manifest/${hash}`);
        expect(await s.putBlob('manifest', bytes)).toBe(hash);
        expect(await other.getBlob('manifest', hash)).toEqual(bytes);
      });
    });

    describe('latest pointer', () => {
      // One backing for this block: the pointer is a single value per store.
      let fresh: StoreHarness;
      beforeAll(async () => {
        fresh = await makeHarness();
      });
      afterAll(async () => {
        await fresh.cleanup();
      });
      const openFresh = async () => {
        const s = await fresh.open();
        opened.push(s);
        return s;
      };

      it('is absent at first, then moves only by compare-and-swap', async () => {
        const s = await openFresh();
        expect(await s.getLatest()).toBeNull();
        await expectCode(s.setLatest(pointer('x'), '12345'), 'conflict');
        expect(await s.getLatest()).toBeNull();
        const v1 = await s.setLatest(pointer('first'), null);
        const got = (await s.getLatest()) as VersionedLatest;
        expect(got.version).toBe(v1);
        expect(got.value.transitionHash).toBe(pointer('first').transitionHash);
        expect(got.value.signature).toEqual(pointer('first').signature);

        await expectCode(s.setLatest(pointer('again'), null), 'conflict', 'expectedVersion');
        const v2 = await s.setLatest(pointer('second'), v1);
        expect(v2).not.toBe(v1);
        await expectCode(s.setLatest(pointer('stale'), v1), 'conflict', 'expectedVersion');
        const now = (await s.getLatest()) as VersionedLatest;
        expect(now.version).toBe(v2);
        expect(now.value.transitionHash).toBe(pointer('second').transitionHash);
        // Rewriting the same value still gets a new version (no ABA).
        const v3 = await s.setLatest(pointer('second'), v2);
        expect(v3).not.toBe(v2);
        await expectCode(s.setLatest(pointer('second'), v2), 'conflict');
      });

      it('refuses a malformed pointer, naming the field', async () => {
        const s = await openFresh();
        const latest = (await s.getLatest()) as VersionedLatest;
        await expectCode(
          s.setLatest({ transitionHash: 'zz', signature: enc('s') }, latest.version),
          'invalid-argument',
          'latest.transitionHash',
        );
        await expectCode(
          s.setLatest({ transitionHash: sha('a'), signature: new Uint8Array(0) }, latest.version),
          'invalid-argument',
          'latest.signature',
        );
        expect((await s.getLatest())?.version).toBe(latest.version);
      });

      it('lets exactly one of two concurrent writers win, every round', async () => {
        const a = await openFresh();
        const b = await openFresh();
        for (let round = 0; round < 15; round++) {
          const seen = (await a.getLatest())?.version ?? null;
          expect((await b.getLatest())?.version ?? null).toBe(seen);
          const results = await Promise.allSettled([
            a.setLatest(pointer(`a${round}`), seen),
            b.setLatest(pointer(`b${round}`), seen),
          ]);
          const won = results.filter((r) => r.status === 'fulfilled');
          const lost = results.filter((r) => r.status === 'rejected');
          expect(won).toHaveLength(1);
          expect(lost).toHaveLength(1);
          const reason = (lost[0] as PromiseRejectedResult).reason;
          expect(isContrastError(reason) && reason.code).toBe('conflict');
          const winner = results[0]!.status === 'fulfilled' ? `a${round}` : `b${round}`;
          const latest = (await b.getLatest()) as VersionedLatest;
          expect(latest.value.transitionHash).toBe(pointer(winner).transitionHash);
          expect(latest.version).toBe((won[0] as PromiseFulfilledResult<string>).value);
        }
      });

      it('lets a watch on one replica see updates made by another, and stops on abort', async () => {
        const watcher = await openFresh();
        const writer = await openFresh();
        const seen: (VersionedLatest | null)[] = [];
        const ac = new AbortController();
        await watcher.watchLatest((l) => seen.push(l), ac.signal);
        // The current value is delivered first.
        await eventually(() => seen.length >= 1);
        const start = (await writer.getLatest()) as VersionedLatest;
        expect(seen[0]?.version).toBe(start.version);

        const v1 = await writer.setLatest(pointer('watched-1'), start.version);
        await eventually(() => seen.some((l) => l?.version === v1));
        expect(seen.find((l) => l?.version === v1)?.value.transitionHash).toBe(
          pointer('watched-1').transitionHash,
        );
        const v2 = await writer.setLatest(pointer('watched-2'), v1);
        await eventually(() => seen.at(-1)?.version === v2);
        // No version is delivered twice.
        const versions = seen.map((l) => l?.version);
        expect(new Set(versions).size).toBe(versions.length);

        ac.abort();
        const count = seen.length;
        await writer.setLatest(pointer('unwatched'), v2);
        await new Promise((r) => setTimeout(r, 700));
        expect(seen.length).toBe(count);
      });
      it('goes on watching when the listener throws (no unhandled rejection ending the process)', async () => {
        const watcher = await openFresh();
        const writer = await openFresh();
        const seen: (VersionedLatest | null)[] = [];
        const ac = new AbortController();
        await watcher.watchLatest((l) => {
          seen.push(l);
          throw new Error('listener bug');
        }, ac.signal);
        await eventually(() => seen.length >= 1);
        const start = await writer.getLatest();
        const v1 = await writer.setLatest(pointer('after-throw-1'), start?.version ?? null);
        await eventually(() => seen.some((l) => l?.version === v1));
        const v2 = await writer.setLatest(pointer('after-throw-2'), v1);
        await eventually(() => seen.some((l) => l?.version === v2));
        ac.abort();
      });
    });

    describe('History on this backend', () => {
      const keys = testSigner();
      let backing: StoreHarness;
      beforeAll(async () => {
        backing = await makeHarness();
      });
      afterAll(async () => {
        await backing.cleanup();
      });
      const openBacking = async () => {
        const s = await backing.open();
        opened.push(s);
        return s;
      };

      it('commits manifests into a signed chain and walks it back to the first', async () => {
        const history = new History({ store: await openBacking(), sign: keys.sign, verify: keys.verify });
        expect(await history.getLatest()).toBeNull();
        const manifests = [enc('manifest 1'), enc('manifest 2'), enc('manifest 3')];
        const policies = [[enc('policy a')], [enc('policy a'), enc('policy b')], []];
        const commits = [];
        let expected: VersionedLatest | null = null;
        for (let i = 0; i < manifests.length; i++) {
          const c = await history.commitManifest(manifests[i]!, policies[i]!, expected);
          commits.push(c);
          const latest = await history.getLatest();
          expected = {
            value: { transitionHash: latest!.transitionHash, signature: latest!.signature },
            version: latest!.version,
          };
        }
        expect(commits[0]!.previousTransitionHash).toBe('0'.repeat(64));
        expect(commits[1]!.previousTransitionHash).toBe(commits[0]!.transitionHash);
        expect(commits[1]!.policyHashes).toEqual([sha('policy a'), sha('policy b')]);

        // Another replica reads the same history.
        const reader = new History({ store: await openBacking(), verify: keys.verify });
        const latest = await reader.getLatest();
        expect(latest?.verified).toBe(true);
        expect(latest?.transitionHash).toBe(commits[2]!.transitionHash);
        expect(latest?.manifestHash).toBe(sha('manifest 3'));

        const walked = [];
        for await (const t of reader.walk()) walked.push(t.transitionHash);
        expect(walked).toEqual(commits.map((c) => c.transitionHash).reverse());
        expect((await reader.manifests()).map((m) => new TextDecoder().decode(m.bytes))).toEqual([
          'manifest 1',
          'manifest 2',
          'manifest 3',
        ]);
        expect(await reader.getPolicy(sha('policy b'))).toEqual(enc('policy b'));
        expect(await reader.isAncestor(commits[0]!.transitionHash, commits[2]!.transitionHash)).toBe(true);
        expect(await reader.isAncestor(commits[2]!.transitionHash, commits[0]!.transitionHash)).toBe(false);

        // A stale writer (expecting the first transition) loses and changes nothing.
        const stale = {
          value: { transitionHash: commits[0]!.transitionHash, signature: enc('x') },
          version: commits[0]!.version,
        };
        await expectCode(history.commitManifest(enc('manifest late'), [], stale), 'conflict');
        expect((await reader.getLatest())?.transitionHash).toBe(commits[2]!.transitionHash);

        // The pointer's signature is checked with the injected verifier.
        const wrongKey = new History({ store: await openBacking(), verify: testSigner().verify });
        await expectCode(wrongKey.getLatest(), 'permission-denied', 'latest.signature');
        expect((await wrongKey.getLatest({ verify: false }))?.verified).toBe(false);
      });

      it('keeps the chain linear when many replicas commit concurrently with retries', async () => {
        const writers = await Promise.all(
          Array.from(
            { length: 4 },
            async () => new History({ store: await openBacking(), sign: keys.sign, verify: keys.verify }),
          ),
        );
        const before = (await writers[0]!.transitions()).length;
        const perWriter = 4;
        await Promise.all(
          writers.map(async (h, w) => {
            for (let i = 0; i < perWriter; i++) {
              for (;;) {
                const l = await h.getLatest();
                const expected = l && {
                  value: { transitionHash: l.transitionHash, signature: l.signature },
                  version: l.version,
                };
                try {
                  await h.commitManifest(enc(`writer ${w} manifest ${i}`), [enc(`policy ${w}`)], expected);
                  break;
                } catch (error) {
                  if (!isContrastError(error) || error.code !== 'conflict') throw error;
                }
              }
            }
          }),
        );
        const chain = await writers[1]!.transitions();
        expect(chain.length - before).toBe(writers.length * perWriter);
        const committed = new Set(chain.map((t) => t.manifestHash));
        for (let w = 0; w < writers.length; w++) {
          for (let i = 0; i < perWriter; i++)
            expect(committed.has(sha(`writer ${w} manifest ${i}`))).toBe(true);
        }
      });
      it('reports a missing or corrupted transition in the chain', async () => {
        const history = new History({ store: await openBacking(), sign: keys.sign, verify: keys.verify });
        const latest = await history.getLatest();
        const head = latest!.transitionHash;
        const chain = await history.transitions();
        const first = chain[0]!.transitionHash;
        await backing.corruptBlob('transition', first);
        await expectCode(history.transitions(), 'validation-failed', `transition/${first}`);
        await backing.removeBlob('transition', first);
        await expectCode(history.transitions(head), 'not-found', `transition/${first}`);
        expect(await history.isAncestor(sha('unrelated'), head)).toBe(false);
      });
    });
  });
}
