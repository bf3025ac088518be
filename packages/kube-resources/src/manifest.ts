import type { Platform } from '@contrast-cc/core';
import { type Manifest, type ManifestIssue, type PolicyEntry, parseManifest } from '@contrast-cc/manifest';
import { ResourceInputError, type ResourceProblem } from './errors.js';
import type { PatchedWorkload } from './pipeline.js';
import { referenceValuesFor } from './reference-values.js';

export interface AssembleManifestOptions {
  /** The manifest on disk, if any (already parsed). */
  existing?: Manifest;
  workloads: readonly PatchedWorkload[];
  /** Platforms whose reference values go into the manifest (used ones plus `--reference-values`). */
  platforms: readonly Platform[];
  /** Workload owner keys to add (PKIX DER hex). */
  workloadOwnerKeys?: readonly string[];
  /** Seed-share owner keys to add (PKCS#1 DER hex). */
  seedshareOwnerKeys?: readonly string[];
  /**
   * `--seedshare-threshold k`: any k seed-share owners together recover the Coordinator. Unset:
   * the existing manifest's value is kept. 1 is written as no field (upstream's 1-of-n bytes).
   */
  seedshareThreshold?: number;
  /** Empty the workload owner keys: an immutable deployment. */
  disableUpdates?: boolean;
  /** The manifest's file name, for messages. */
  file?: string;
}

export interface AssembledManifest {
  manifest: Manifest;
  warnings: ManifestIssue[];
  /** Values the user must fill in ("please fill in"). */
  missing: ManifestIssue[];
}

function dedupe(values: readonly string[]): string[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const k = v.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Builds the manifest `generate` writes, as upstream: the policy map from the workloads
 * (`hash -> {SANs: [name, "*"], WorkloadSecretID, Role}`), the reference values of the used
 * platforms (user-filled values of a matching existing entry kept, and its launch measurements
 * while the platform provides none), owner keys (existing plus
 * added; none with `disableUpdates`), the seed-share threshold (given, else the existing one;
 * checked against the owner count by `parseManifest`, naming `SeedshareThreshold`). Extra SANs the user added to an entry with the same
 * WorkloadSecretID are kept. Two different workloads with one policy hash are an error.
 */
export function assembleManifest(options: AssembleManifestOptions): AssembledManifest {
  const file = options.file ?? 'manifest.json';
  const existing = options.existing;
  const problems: ResourceProblem[] = [];

  const byHash = new Map<string, PatchedWorkload>();
  for (const w of options.workloads) {
    const other = byHash.get(w.policyHash);
    if (other) {
      problems.push({
        file: w.file,
        field: w.location,
        message: `policy hash ${w.policyHash} of ${w.kind} ${w.namespace}/${w.name} collides with ${other.kind} ${other.namespace}/${other.name} (${other.file}); two workloads must differ in their policy`,
      });
      continue;
    }
    byHash.set(w.policyHash, w);
  }
  const previousById = new Map<string, PolicyEntry>();
  for (const entry of Object.values(existing?.Policies ?? {})) {
    if (entry.WorkloadSecretID) previousById.set(entry.WorkloadSecretID, entry);
  }
  const policies: Record<string, PolicyEntry> = {};
  for (const [hash, w] of byHash) {
    const sans = dedupe([...w.sans, ...(previousById.get(w.workloadSecretId)?.SANs ?? [])]);
    policies[hash] = {
      SANs: sans,
      WorkloadSecretID: w.workloadSecretId,
      ...(w.role === 'coordinator' ? { Role: 'coordinator' as const } : {}),
    };
  }

  const referenceValues = referenceValuesFor(existing, options.platforms, problems, file);
  if (problems.length > 0) throw new ResourceInputError(problems);

  const manifest: Manifest = {
    Policies: policies,
    ReferenceValues: referenceValues,
    WorkloadOwnerPubKeys: options.disableUpdates
      ? []
      : dedupe([...(existing?.WorkloadOwnerPubKeys ?? []), ...(options.workloadOwnerKeys ?? [])]),
    ...(existing?.WorkloadOwnerKeyDigests && !options.disableUpdates
      ? { WorkloadOwnerKeyDigests: existing.WorkloadOwnerKeyDigests }
      : {}),
    SeedshareOwnerPubKeys: dedupe([
      ...(existing?.SeedshareOwnerPubKeys ?? []),
      ...(options.seedshareOwnerKeys ?? []),
    ]),
  };
  const threshold = options.seedshareThreshold ?? existing?.SeedshareThreshold;
  if (threshold !== undefined && threshold !== 1) manifest.SeedshareThreshold = threshold;
  const parsed = parseManifest(manifest, { file });
  return { manifest: parsed.manifest, warnings: parsed.warnings, missing: parsed.missing };
}
