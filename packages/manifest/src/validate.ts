import { createPublicKey } from 'node:crypto';
import { ContrastError, jsonBoundsViolation } from '@contrast-cc/core';
import type { z } from 'zod';
import { SNP_GUEST_POLICY_FIXED_OFF } from './defaults.js';
import { type Manifest, ManifestSchema, type SnpReferenceValues, type TdxReferenceValues } from './schema.js';

/** One problem at a JSON path such as `ReferenceValues.snp[0].MinimumTCB.BootloaderVersion`. @public */
export interface ManifestIssue {
  path: string;
  message: string;
}

/** What {@link parseManifest} returns for a valid manifest. @public */
export interface ParsedManifest {
  manifest: Manifest;
  /** Valid but worth telling (e.g. the older `WorkloadOwnerKeyDigests`, no owner keys). */
  warnings: ManifestIssue[];
  /** Values the user still has to fill in (SNP MinimumTCB, TDX MrSeam): "please fill in". */
  missing: ManifestIssue[];
}

/** @public */
export interface ParseManifestOptions {
  /** The file the manifest came from; every message names it. */
  file?: string;
  /**
   * Platform ids known to be insecure (simulated). Entries carrying `Insecure: true` are always
   * insecure; an unknown `Platform` counts as secure (fail closed).
   */
  insecurePlatforms?: readonly string[];
}

/**
 * A manifest that is not valid: every issue carries its JSON path.
 * @public
 */
export class ManifestValidationError extends ContrastError {
  readonly issues: readonly ManifestIssue[];

  constructor(issues: readonly ManifestIssue[], file?: string) {
    const lines = issues.map((i) => `${i.path || '(root)'}: ${i.message}`);
    super('validation-failed', `invalid manifest: ${lines.join('; ')}`, {
      field: issues[0]?.path,
      file,
    });
    this.name = 'ManifestValidationError';
    this.issues = issues;
  }

  /** One line per issue, each with file and path. */
  override describe(): string {
    const prefix = this.file ? `${this.file}: ` : '';
    return this.issues.map((i) => `${prefix}${i.path || '(root)'}: ${i.message}`).join('\n');
  }
}

/** `['ReferenceValues', 'snp', 0, 'MinimumTCB']` -> `ReferenceValues.snp[0].MinimumTCB`. @public */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(part))
      out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

function zodIssues(error: z.ZodError): ManifestIssue[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return {
        path: formatPath([...issue.path, ...(issue.keys.length === 1 ? [issue.keys[0]!] : [])]),
        message:
          issue.keys.length === 1
            ? 'unknown field'
            : `unknown fields ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`,
      };
    }
    return { path: formatPath(issue.path), message: issue.message };
  });
}

const SNP_PRODUCTS = ['Milan', 'Genoa'];

function hexBytes(value: string): number {
  return value.length / 2;
}

class Collector {
  errors: ManifestIssue[] = [];
  warnings: ManifestIssue[] = [];
  missing: ManifestIssue[] = [];
  error(path: string, message: string) {
    this.errors.push({ path, message });
  }
  /** Checks a schema-valid hex string's length; `undefined` counts as absent (an error). */
  hexLength(path: string, value: string | undefined | null, bytes: number, what = 'value') {
    if (value === undefined || value === null || value === '') {
      this.error(path, `${what} is required (${bytes} bytes as hex)`);
    } else if (hexBytes(value) !== bytes) {
      this.error(path, `must be ${bytes} bytes (${bytes * 2} hex digits), got ${hexBytes(value)} bytes`);
    }
  }
}

function validateSnp(c: Collector, rv: SnpReferenceValues, base: string) {
  if (rv.ProductName === undefined || rv.ProductName === '') {
    c.error(`${base}.ProductName`, `is required (one of ${SNP_PRODUCTS.join(', ')})`);
  } else if (!SNP_PRODUCTS.includes(rv.ProductName)) {
    c.error(`${base}.ProductName`, `"${rv.ProductName}" is not one of ${SNP_PRODUCTS.join(', ')}`);
  }
  c.hexLength(`${base}.TrustedMeasurement`, rv.TrustedMeasurement, 48, 'the launch measurement');
  if (rv.APEIP !== undefined && rv.APEIP !== '' && hexBytes(rv.APEIP) !== 4) {
    c.error(`${base}.APEIP`, `must be 4 bytes (8 hex digits), got ${hexBytes(rv.APEIP)} bytes`);
  }
  for (const field of ['BootloaderVersion', 'TEEVersion', 'SNPVersion', 'MicrocodeVersion'] as const) {
    const v = rv.MinimumTCB?.[field];
    if (v === undefined || v === null) {
      c.missing.push({
        path: `${base}.MinimumTCB.${field}`,
        message: 'please fill in the minimum TCB version of your hardware (an integer 0-255)',
      });
    }
  }
  const gp = rv.GuestPolicy;
  if (gp) {
    if (gp.ABIMajor !== undefined && gp.ABIMajor !== 0) {
      c.error(`${base}.GuestPolicy.ABIMajor`, 'modifying this field is not permitted (must be 0)');
    }
    if (gp.ABIMinor !== undefined && gp.ABIMinor !== 0 && gp.ABIMinor !== 31) {
      c.error(`${base}.GuestPolicy.ABIMinor`, 'modifying this field is not permitted (must be 0 or 31)');
    }
    if (gp.SMT !== undefined && gp.SMT !== true) {
      c.error(`${base}.GuestPolicy.SMT`, 'modifying this field is not permitted (must be true)');
    }
    for (const field of SNP_GUEST_POLICY_FIXED_OFF) {
      if (gp[field] === true) {
        c.error(`${base}.GuestPolicy.${field}`, 'modifying this field is not permitted (must be false)');
      }
    }
  }
  (rv.AllowedChipIDs ?? []).forEach((id, i) => {
    c.hexLength(`${base}.AllowedChipIDs[${i}]`, id, 64, 'a chip id');
  });
}

function validateTdx(c: Collector, rv: TdxReferenceValues, base: string) {
  c.hexLength(`${base}.MrTd`, rv.MrTd, 48, 'MRTD');
  if (rv.MrSeam === undefined || rv.MrSeam === '') {
    c.missing.push({
      path: `${base}.MrSeam`,
      message: 'please fill in the MRSEAM (sha384 of the TDX module, 48 bytes as hex)',
    });
  } else {
    c.hexLength(`${base}.MrSeam`, rv.MrSeam, 48, 'MRSEAM');
  }
  c.hexLength(`${base}.Xfam`, rv.Xfam, 8, 'XFAM');
  if (rv.Rtmrs === undefined) c.error(`${base}.Rtmrs`, 'is required (RTMR0-3, 48 bytes each)');
  else if (rv.Rtmrs.length !== 4) c.error(`${base}.Rtmrs`, `must list 4 RTMRs, got ${rv.Rtmrs.length}`);
  else {
    for (const [i, r] of rv.Rtmrs.entries()) c.hexLength(`${base}.Rtmrs[${i}]`, r, 48, 'an RTMR');
  }
  (rv.Rtmr0Alternatives ?? []).forEach((r, i) => {
    c.hexLength(`${base}.Rtmr0Alternatives[${i}]`, r, 48, 'an RTMR');
  });
  (rv.AllowedPIIDs ?? []).forEach((p, i) => {
    c.hexLength(`${base}.AllowedPIIDs[${i}]`, p, 16, 'a PIID');
  });
}

function isInsecure(
  rv: { Platform?: string | undefined; Insecure?: boolean | undefined },
  known: Set<string>,
) {
  return rv.Insecure === true || (rv.Platform !== undefined && known.has(rv.Platform.toLowerCase()));
}

/** The cross-field and format rules of upstream's `Manifest.Validate`. */
function validateRules(m: Manifest, options: ParseManifestOptions): Collector {
  const c = new Collector();
  let coordinators = 0;
  for (const [hash, entry] of Object.entries(m.Policies)) {
    const path = `Policies[${JSON.stringify(hash)}]`;
    if (!/^[0-9a-fA-F]{64}$/.test(hash)) {
      c.error(path, 'policy hash must be a hex sha256 (64 hex digits)');
    } else if (hash !== hash.toLowerCase()) {
      c.warnings.push({
        path,
        message:
          'upper-case hex: the Coordinator looks policy hashes up in lower case, this entry would never match',
      });
    }
    if (entry.Role === 'coordinator') coordinators++;
  }
  if (coordinators === 0) {
    c.error('Policies', 'no policy has Role "coordinator"; add the Coordinator to your resources');
  }

  const snp = m.ReferenceValues.snp ?? [];
  const tdx = m.ReferenceValues.tdx ?? [];
  if (snp.length === 0 && tdx.length === 0) {
    c.error('ReferenceValues', 'reference values cannot be empty; is the chosen platform supported?');
  }
  for (const [i, rv] of snp.entries()) validateSnp(c, rv, `ReferenceValues.snp[${i}]`);
  for (const [i, rv] of tdx.entries()) validateTdx(c, rv, `ReferenceValues.tdx[${i}]`);

  const known = new Set((options.insecurePlatforms ?? []).map((p) => p.toLowerCase()));
  const entries = [
    ...snp.map((rv, i) => ({ rv, path: `ReferenceValues.snp[${i}]` })),
    ...tdx.map((rv, i) => ({ rv, path: `ReferenceValues.tdx[${i}]` })),
  ];
  const insecure = entries.filter((e) => isInsecure(e.rv, known));
  if (insecure.length > 0 && insecure.length < entries.length) {
    const secure = entries.find((e) => !isInsecure(e.rv, known))!;
    c.error(
      insecure[0]!.path,
      `insecure (simulated) platform mixed with the secure platform at ${secure.path}; a manifest holds either`,
    );
  }

  (m.WorkloadOwnerPubKeys ?? []).forEach((hex, i) => {
    const path = `WorkloadOwnerPubKeys[${i}]`;
    try {
      const key = createPublicKey({ key: Buffer.from(hex, 'hex'), format: 'der', type: 'spki' });
      if (key.asymmetricKeyType !== 'ec') {
        c.error(path, `must be an ECDSA public key (PKIX DER), got ${key.asymmetricKeyType ?? 'unknown'}`);
      }
    } catch {
      c.error(path, 'is not a PKIX (SubjectPublicKeyInfo) DER public key');
    }
  });
  (m.WorkloadOwnerKeyDigests ?? []).forEach((hex, i) => {
    if (hexBytes(hex) !== 32) {
      c.error(`WorkloadOwnerKeyDigests[${i}]`, 'must be a hex sha256 (64 hex digits)');
    }
  });
  if (m.WorkloadOwnerKeyDigests && m.WorkloadOwnerKeyDigests.length > 0) {
    c.warnings.push({
      path: 'WorkloadOwnerKeyDigests',
      message: 'older form of the owner keys; newer Coordinators expect WorkloadOwnerPubKeys',
    });
  }
  if ((m.WorkloadOwnerPubKeys ?? []).length === 0 && (m.WorkloadOwnerKeyDigests ?? []).length === 0) {
    c.warnings.push({
      path: 'WorkloadOwnerPubKeys',
      message: 'no workload owner keys: the manifest cannot be updated once set',
    });
  }
  (m.SeedshareOwnerPubKeys ?? []).forEach((hex, i) => {
    const path = `SeedshareOwnerPubKeys[${i}]`;
    try {
      createPublicKey({ key: Buffer.from(hex, 'hex'), format: 'der', type: 'pkcs1' });
    } catch {
      c.error(path, 'is not an RSA public key in PKCS#1 DER');
    }
  });
  const threshold = m.SeedshareThreshold;
  const seedOwners = new Set((m.SeedshareOwnerPubKeys ?? []).map((k) => k.toLowerCase())).size;
  if (threshold !== undefined && threshold > seedOwners) {
    c.error(
      'SeedshareThreshold',
      `${threshold} exceeds the ${seedOwners} seed-share owner${seedOwners === 1 ? '' : 's'} in SeedshareOwnerPubKeys: k of n needs k <= n`,
    );
  }
  return c;
}

/**
 * The shape a manifest's JSON may have at most: 10,000 policies with a few SANs each and the
 * reference values fit with a wide margin; `[[[[...]]]]` or millions of `{}` do not.
 * @public
 */
export const MANIFEST_JSON_BOUNDS = Object.freeze({ maxDepth: 32, maxValues: 200_000 });

/**
 * Parses and validates a manifest in three steps: JSON text (if given text or bytes), the strict
 * schema, then upstream's rules. Returns the manifest with warnings and the "please fill in"
 * values, or throws {@link ManifestValidationError} listing every invalid field with its path.
 * @public
 */
export function parseManifest(
  input: string | Uint8Array | unknown,
  options: ParseManifestOptions = {},
): ParsedManifest {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    // Bounded before parsing: the manifest arrives from anyone before a first owner exists.
    const violation = jsonBoundsViolation(input, MANIFEST_JSON_BOUNDS);
    if (violation) {
      throw new ManifestValidationError([{ path: '', message: `the manifest ${violation}` }], options.file);
    }
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ManifestValidationError(
        [{ path: '', message: `not valid JSON: ${(error as Error).message}` }],
        options.file,
      );
    }
  }
  const parsed = ManifestSchema.safeParse(value);
  if (!parsed.success) throw new ManifestValidationError(zodIssues(parsed.error), options.file);
  const c = validateRules(parsed.data, options);
  if (c.errors.length > 0) throw new ManifestValidationError(c.errors, options.file);
  return { manifest: parsed.data, warnings: c.warnings, missing: c.missing };
}

/**
 * Schema-checks reference values (e.g. a platform's defaults) without the manifest-wide rules;
 * returns the issues, with paths relative to `base`.
 * @public
 */
export function checkReferenceValues(
  tee: 'snp' | 'tdx',
  values: readonly unknown[],
  base = `ReferenceValues.${tee}`,
): ManifestIssue[] {
  const probe = ManifestSchema.shape.ReferenceValues.safeParse({ [tee]: values });
  if (!probe.success) {
    return zodIssues(probe.error).map((i) => ({
      path: i.path.replace(new RegExp(`^${tee}`), base),
      message: i.message,
    }));
  }
  const c = new Collector();
  const list = (probe.data[tee] ?? []) as (SnpReferenceValues & TdxReferenceValues)[];
  list.forEach((rv, i) => {
    if (tee === 'snp') validateSnp(c, rv, `${base}[${i}]`);
    else validateTdx(c, rv, `${base}[${i}]`);
  });
  return c.errors;
}
