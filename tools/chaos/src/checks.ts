// What the campaign checks, apart from the processes: the states the replicas serve (against the
// one `set` and against each other) and what each initializer wrote.
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { type StateResponse, stateDigestOf } from '@contrast-cc/api';
import { toHex } from '@contrast-cc/core';

/** What every replica must serve: the answer to the one `set`, and the lists it served then. */
export interface Reference {
  rootCa: string;
  meshCa: string;
  transition: string;
  /** {@link manifestsDigest} of the set replica's state. */
  manifests: string;
}

/** A moment a replica disagreed with the reference or with another replica. */
export interface Divergence {
  atMs: number;
  replica: string;
  incarnation: number;
  what: string;
}

/** sha256 over the manifests and policies of a state (the lists, in the order served). */
export const manifestsDigest = (s: StateResponse): string =>
  createHash('sha256')
    .update(JSON.stringify([s.manifests, s.policies]))
    .digest('hex');

const sameCert = (a: string, b: string) => new X509Certificate(a).raw.equals(new X509Certificate(b).raw);

/**
 * Watches the attested states the replicas serve. There is one reference per generation (the
 * first `set`, then each update, {@link StateMonitor.advance}). Any root CA, mesh CA or transition
 * in any answer (a stale replica may show the transition) must all be one generation's; an older
 * generation than the latest only while the update propagates (`maxLagMs` after it was set: the
 * replica has not seen the store change yet); an active replica at the latest generation must
 * serve its manifests and policies, and the same state digest as the latest answer of every other
 * replica still active (`isActive`) at that generation.
 */
export class StateMonitor {
  readonly divergences: Divergence[] = [];
  readonly counts = { samples: 0, activeSamples: 0, comparisons: 0, lagging: 0 };
  readonly #latest = new Map<string, { digest: string; incarnation: number; generation: number }>();
  readonly #generations: { ref: Reference; since: number }[];
  /** The generation of each replica's latest answer (stale answers included), or -1. */
  readonly #seen = new Map<string, { generation: number; active: boolean }>();
  #pending = false;
  readonly #deferred: { replica: string; incarnation: number; s: StateResponse; at: number }[] = [];

  constructor(
    reference: Reference,
    readonly clock: () => number,
    readonly onDivergence: (d: Divergence) => void = () => {},
    readonly maxLagMs = 30_000,
  ) {
    this.#generations = [{ ref: reference, since: clock() }];
  }

  /** The latest generation's reference. */
  get reference(): Reference {
    return this.#generations.at(-1)!.ref;
  }

  /** Every generation's reference, oldest first. */
  get references(): Reference[] {
    return this.#generations.map((g) => g.ref);
  }

  /**
   * The owner is about to set a new manifest: until {@link advance} (or {@link abortUpdate}),
   * answers that match no known generation are kept and judged then — a replica serves the new
   * generation as soon as it applied the set, before the harness has the answer to name it.
   */
  beginUpdate(): void {
    this.#pending = true;
  }

  /** The owner set a new manifest: `reference` is the latest generation from now on. */
  advance(reference: Reference): void {
    this.#generations.push({ ref: reference, since: this.clock() });
    this.#settle();
  }

  /** The update failed: the kept answers are judged against the generations known. */
  abortUpdate(): void {
    this.#settle();
  }

  #settle(): void {
    this.#pending = false;
    for (const d of this.#deferred.splice(0)) this.#judge(d.replica, d.incarnation, d.s, () => false, d.at);
  }

  /** Whether the replica's latest answer was active at the latest generation. */
  current(replica: string): boolean {
    const seen = this.#seen.get(replica);
    return seen?.active === true && seen.generation === this.#generations.length - 1;
  }

  /** A replica went away or restarted: its last answer no longer counts. */
  forget(replica: string): void {
    this.#latest.delete(replica);
    this.#seen.delete(replica);
  }

  observe(
    replica: string,
    incarnation: number,
    s: StateResponse,
    isActive: (other: string) => boolean,
  ): void {
    this.counts.samples++;
    this.#judge(replica, incarnation, s, isActive, this.clock());
  }

  #judge(
    replica: string,
    incarnation: number,
    s: StateResponse,
    isActive: (other: string) => boolean,
    at: number,
  ): void {
    const diverge = (what: string) => {
      const d = { atMs: at, replica, incarnation, what };
      this.divergences.push(d);
      this.onDivergence(d);
    };
    const t = s.latest_transition?.transition_hash;
    const matches = (ref: Reference) =>
      (s.root_ca === undefined || sameCert(s.root_ca, ref.rootCa)) &&
      (s.mesh_ca === undefined || sameCert(s.mesh_ca, ref.meshCa)) &&
      (t === undefined || t === ref.transition);
    const last = this.#generations.length - 1;
    let generation = -1;
    for (let g = last; g >= 0; g--) {
      if (matches(this.#generations[g]!.ref)) {
        generation = g;
        break;
      }
    }
    if (generation < 0 && this.#pending) {
      this.#deferred.push({ replica, incarnation, s, at });
      return;
    }
    if (generation < 0) {
      // No generation serves this: name what differs from the latest one.
      const ref = this.reference;
      if (s.root_ca !== undefined && !sameCert(s.root_ca, ref.rootCa)) diverge('another root CA');
      if (s.mesh_ca !== undefined && !sameCert(s.mesh_ca, ref.meshCa)) diverge('another mesh CA');
      if (t !== undefined && t !== ref.transition) diverge(`another transition ${t}`);
    } else if (generation < last && (s.root_ca !== undefined || t !== undefined)) {
      this.counts.lagging++;
      const lag = at - this.#generations[generation + 1]!.since;
      if (lag > this.maxLagMs) {
        diverge(`serves generation ${generation} ${lag} ms after generation ${generation + 1} was set`);
      }
    }
    this.#seen.set(replica, { generation, active: s.status === 'active' });
    if (s.status !== 'active' || generation !== last) {
      this.#latest.delete(replica);
      return;
    }
    this.counts.activeSamples++;
    if (manifestsDigest(s) !== this.reference.manifests) diverge('other manifests or policies');
    const digest = toHex(stateDigestOf(s));
    this.#latest.set(replica, { digest, incarnation, generation });
    for (const [other, seen] of this.#latest) {
      if (other === replica || !isActive(other) || seen.generation !== last) continue;
      this.counts.comparisons++;
      if (seen.digest !== digest) diverge(`state digest differs from ${other}#${seen.incarnation}`);
    }
  }
}

/** What an initializer wrote (the files of `OUTPUT_FILES`, as text). */
export interface InitializerOutput {
  certChain: string;
  key: string;
  meshCa: string;
  rootCa: string;
  workloadSecret?: string;
}

/**
 * Checks one initializer's output: the mesh CA and root CA of one generation, a leaf issued and signed by
 * that mesh CA for the initializer's own key, and the same workload secret as every earlier
 * initializer of that workload (`secrets`, filled as it goes). Returns the problem, or undefined.
 */
export function checkInitializerOutput(
  out: InitializerOutput,
  workload: string,
  references: readonly Reference[],
  secrets: Map<string, string>,
): string | undefined {
  // The generation whose mesh CA it got (a manifest update may land while it runs).
  const reference = references.find((r) => sameCert(out.meshCa, r.meshCa));
  if (!reference) return 'got another mesh CA';
  if (!sameCert(out.rootCa, reference.rootCa)) return 'got another root CA';
  const leafPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out.certChain)?.[0];
  if (!leafPem) return 'no certificate in the chain';
  const leaf = new X509Certificate(leafPem);
  const mesh = new X509Certificate(reference.meshCa);
  if (!leaf.checkIssued(mesh) || !leaf.verify(mesh.publicKey))
    return 'the certificate is not signed by the mesh CA';
  const own = createPublicKey(createPrivateKey(out.key)).export({ type: 'spki', format: 'der' });
  if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(own)) {
    return "the certificate is not for the initializer's key";
  }
  if (out.workloadSecret === undefined) return `no workload secret for ${workload}`;
  const seen = secrets.get(workload);
  if (seen === undefined) secrets.set(workload, out.workloadSecret);
  else if (seen !== out.workloadSecret) return `another workload secret for ${workload}`;
  return undefined;
}
