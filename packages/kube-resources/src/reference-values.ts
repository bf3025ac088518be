// The reference values of a manifest: the platforms' defaults, with what the user filled into
// the existing manifest kept. Shared by the manifest assembly and the pipeline (which tells every
// initializer which Coordinator to expect).
import type { Platform } from '@contrast-cc/core';
import {
  checkReferenceValues,
  type Manifest,
  type SnpReferenceValues,
  type TdxReferenceValues,
} from '@contrast-cc/manifest';
import type { ResourceProblem } from './errors.js';

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
 * The reference values the manifest gets for `platforms`: each platform's defaults, with the
 * values the user filled into a matching entry of the existing manifest kept (and its launch
 * measurements while the platform provides none), plus the existing entries of other platforms.
 * Each entry is checked as written; problems go to `problems`.
 */
export function referenceValuesFor(
  existing: Manifest | undefined,
  platforms: readonly Platform[],
  problems: ResourceProblem[],
  file = 'manifest.json',
): Manifest['ReferenceValues'] {
  const snp: SnpReferenceValues[] = [];
  const tdx: TdxReferenceValues[] = [];
  const used = new Set(platforms.map((p) => p.id));
  for (const rv of existing?.ReferenceValues.snp ?? [])
    if (!rv.Platform || !used.has(rv.Platform)) snp.push(rv);
  for (const rv of existing?.ReferenceValues.tdx ?? [])
    if (!rv.Platform || !used.has(rv.Platform)) tdx.push(rv);
  for (const platform of platforms) {
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
  return {
    ...(snp.length > 0 ? { snp } : {}),
    ...(tdx.length > 0 ? { tdx } : {}),
  };
}
