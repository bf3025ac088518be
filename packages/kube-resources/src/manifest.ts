import type { Platform } from '@contrast-cc/core';
import {
  checkReferenceValues,
  type Manifest,
  type ManifestIssue,
  type PolicyEntry,
  parseManifest,
  type SnpReferenceValues,
  type TdxReferenceValues,
} from '@contrast-cc/manifest';
import { ResourceInputError, type ResourceProblem } from './errors.js';
import type { PatchedWorkload } from './pipeline.js';

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

// Fields the user fills in or tightens; carried over from the existing manifest's matching entry.
const SNP_USER_FIELDS = ['MinimumTCB', 'AllowedChipIDs', 'MinimumMitigationVector'] as const;
const TDX_USER_FIELDS = [
  'MrSeam',
  'AllowedPIIDs',
  'MemoryIntegrity',
  'SMTDisabled',
  'StaticPlatform',
  'MinTCBEvaluationDataNumber',
] as const;

// Launch measurements: normally from the platform's runtime (its assets); a value the user wrote
// into the manifest is kept while the platform provides none.
const SNP_MEASUREMENT_FIELDS = ['TrustedMeasurement'] as const;
const TDX_MEASUREMENT_FIELDS = ['MrTd', 'Rtmrs', 'Rtmr0Alternatives'] as const;
const MEASUREMENT_FIELD = /\.(TrustedMeasurement|MrTd|Rtmrs)(\[\d+\])?$/;

function dedupe(values: readonly string[]): string[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const k = v.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function referenceValuesOf(platform: Platform): unknown[] {
  return platform.attestation.defaultReferenceValues().map((v) => ({
    Platform: platform.id,
    ...(platform.insecure ? { Insecure: true } : {}),
    ...(v as Record<string, unknown>),
  }));
}

/**
 * Checks one entry as it will be written (at `index` of the manifest's list). Problems name the
 * platform and the field, not the manifest file: the values come from the platform (and what the
 * user filled in), and a missing launch measurement says how to supply it.
 */
function checkEntry(
  platform: Platform,
  entry: Record<string, unknown>,
  index: number,
  problems: ResourceProblem[],
  file: string,
): void {
  const tee = platform.attestation.tee;
  const base = `ReferenceValues.${tee}`;
  for (const issue of checkReferenceValues(tee, [entry], base)) {
    const field = `platform ${platform.id}: ${issue.path.replace(`${base}[0]`, `${base}[${index}]`)}`;
    const measurement =
      MEASUREMENT_FIELD.test(issue.path) && /required|missing|expected/i.test(issue.message);
    problems.push({
      file: '',
      field,
      message: measurement
        ? `unknown: the platform's runtime does not provide this launch measurement and ${file} has none. Supply the runtime assets (contrast generate --assets <file|dir>; contrast runtime measure computes it from the firmware), or fill it into ${file}`
        : `default reference values: ${issue.message}`,
    });
  }
}

/** Does this existing entry describe the same hardware as the fresh default? */
function sameSnpTarget(a: SnpReferenceValues, b: SnpReferenceValues): boolean {
  return a.Platform === b.Platform && a.ProductName === b.ProductName;
}

/**
 * Builds the manifest `generate` writes, as upstream: the policy map from the workloads
 * (`hash -> {SANs: [name, "*"], WorkloadSecretID, Role}`), the reference values of the used
 * platforms (user-filled values of a matching existing entry kept, and its launch measurements
 * while the platform provides none), owner keys (existing plus
 * added; none with `disableUpdates`). Extra SANs the user added to an entry with the same
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

  const snp: SnpReferenceValues[] = [];
  const tdx: TdxReferenceValues[] = [];
  const used = new Set(options.platforms.map((p) => p.id));
  for (const rv of existing?.ReferenceValues.snp ?? [])
    if (!rv.Platform || !used.has(rv.Platform)) snp.push(rv);
  for (const rv of existing?.ReferenceValues.tdx ?? [])
    if (!rv.Platform || !used.has(rv.Platform)) tdx.push(rv);
  for (const platform of options.platforms) {
    const fresh = referenceValuesOf(platform);
    if (platform.attestation.tee === 'snp') {
      const old = (existing?.ReferenceValues.snp ?? []).filter((rv) => rv.Platform === platform.id);
      for (const rv of fresh as SnpReferenceValues[]) {
        const match = old.find((o) => sameSnpTarget(o, rv));
        const merged: Record<string, unknown> = { ...rv };
        for (const f of SNP_USER_FIELDS) if (match?.[f] !== undefined) merged[f] = match[f];
        for (const f of SNP_MEASUREMENT_FIELDS) {
          if (merged[f] === undefined && match?.[f] !== undefined) merged[f] = match[f];
        }
        checkEntry(platform, merged, snp.length, problems, file);
        snp.push(merged as SnpReferenceValues);
      }
    } else {
      const old = (existing?.ReferenceValues.tdx ?? []).filter((rv) => rv.Platform === platform.id);
      (fresh as TdxReferenceValues[]).forEach((rv, i) => {
        const match = old[i];
        const merged: Record<string, unknown> = { ...rv };
        for (const f of TDX_USER_FIELDS) if (match?.[f] !== undefined) merged[f] = match[f];
        for (const f of TDX_MEASUREMENT_FIELDS) {
          if (merged[f] === undefined && match?.[f] !== undefined) merged[f] = match[f];
        }
        checkEntry(platform, merged, tdx.length, problems, file);
        tdx.push(merged as TdxReferenceValues);
      });
    }
  }
  if (problems.length > 0) throw new ResourceInputError(problems);

  const manifest: Manifest = {
    Policies: policies,
    ReferenceValues: {
      ...(snp.length > 0 ? { snp } : {}),
      ...(tdx.length > 0 ? { tdx } : {}),
    },
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
  const parsed = parseManifest(manifest, { file });
  return { manifest: parsed.manifest, warnings: parsed.warnings, missing: parsed.missing };
}
