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
 * Watches the attested states the replicas serve. Any root CA, mesh CA or transition in any
 * answer (a stale replica may show the transition) must be the reference's; an active replica's
 * manifests and policies too; and an active answer's state digest must equal the latest active
 * answer of every other replica that is still active (`isActive`), whatever the reference says.
 */
export class StateMonitor {
  readonly divergences: Divergence[] = [];
  readonly counts = { samples: 0, activeSamples: 0, comparisons: 0 };
  readonly #latest = new Map<string, { digest: string; incarnation: number }>();

  constructor(
    readonly reference: Reference,
    readonly clock: () => number,
    readonly onDivergence: (d: Divergence) => void = () => {},
  ) {}

  /** A replica went away or restarted: its last answer no longer counts. */
  forget(replica: string): void {
    this.#latest.delete(replica);
  }

  observe(
    replica: string,
    incarnation: number,
    s: StateResponse,
    isActive: (other: string) => boolean,
  ): void {
    const ref = this.reference;
    const diverge = (what: string) => {
      const d = { atMs: this.clock(), replica, incarnation, what };
      this.divergences.push(d);
      this.onDivergence(d);
    };
    this.counts.samples++;
    if (s.root_ca !== undefined && !sameCert(s.root_ca, ref.rootCa)) diverge('another root CA');
    if (s.mesh_ca !== undefined && !sameCert(s.mesh_ca, ref.meshCa)) diverge('another mesh CA');
    const t = s.latest_transition?.transition_hash;
    if (t !== undefined && t !== ref.transition) diverge(`another transition ${t}`);
    if (s.status !== 'active') {
      this.#latest.delete(replica);
      return;
    }
    this.counts.activeSamples++;
    if (manifestsDigest(s) !== ref.manifests) diverge('other manifests or policies');
    const digest = toHex(stateDigestOf(s));
    this.#latest.set(replica, { digest, incarnation });
    for (const [other, seen] of this.#latest) {
      if (other === replica || !isActive(other)) continue;
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
 * Checks one initializer's output: the reference's mesh and root CA, a leaf issued and signed by
 * that mesh CA for the initializer's own key, and the same workload secret as every earlier
 * initializer of that workload (`secrets`, filled as it goes). Returns the problem, or undefined.
 */
export function checkInitializerOutput(
  out: InitializerOutput,
  workload: string,
  reference: Reference,
  secrets: Map<string, string>,
): string | undefined {
  if (!sameCert(out.meshCa, reference.meshCa)) return 'got another mesh CA';
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
