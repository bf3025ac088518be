import { z } from 'zod';

/**
 * The zod schemas are the single source of truth for the manifest's shape. Objects are strict
 * (an unknown field is an error, as upstream's `DisallowUnknownFields`); the declaration order of
 * fields is the order of the canonical bytes (see `canonical.ts`). Byte-length rules for hex
 * fields and the cross-field rules live in `validate.ts`, so that "please fill in" values can be
 * told apart from invalid ones.
 */

/** A JSON string of hex digits (either case). Lengths are checked per field in `validate.ts`. */
export const HexStringSchema = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2})*$/, 'must be hex (an even number of 0-9a-f digits)')
  .describe('Bytes as a hex string.');

/** A security version number: a JSON integer 0-255; `null` or absent means "not filled in". */
const SvnSchema = z.number().int().min(0).max(255).nullable().optional();

/** @public */
export const PolicyEntrySchema = z
  .strictObject({
    SANs: z.array(z.string()).describe('Subject alternative names of the mesh certificate.'),
    WorkloadSecretID: z
      .string()
      .optional()
      .describe('Input to the workload-secret derivation; absent: no workload secret.'),
    Role: z
      .enum(['', 'coordinator'])
      .optional()
      .describe('"coordinator" marks the Coordinator policy; absent or "" for workloads.'),
  })
  .describe('What a pod with this policy hash is allowed to become.');

/** @public */
export const SnpTcbSchema = z.strictObject({
  BootloaderVersion: SvnSchema,
  TEEVersion: SvnSchema,
  SNPVersion: SvnSchema,
  MicrocodeVersion: SvnSchema,
  FMCVersion: SvnSchema,
});

/** Guest policy (go-sev-guest `abi.SnpPolicy` JSON); must keep its defaults. @public */
export const SnpGuestPolicySchema = z.strictObject({
  ABIMinor: z.number().int().min(0).max(255).optional(),
  ABIMajor: z.number().int().min(0).max(255).optional(),
  SMT: z.boolean().optional(),
  MigrateMA: z.boolean().optional(),
  Debug: z.boolean().optional(),
  SingleSocket: z.boolean().optional(),
  CXLAllowed: z.boolean().optional(),
  MemAES256XTS: z.boolean().optional(),
  RAPLDis: z.boolean().optional(),
  CipherTextHidingDRAM: z.boolean().optional(),
  PageSwapDisable: z.boolean().optional(),
});

/** Platform info (go-sev-guest `abi.SnpPlatformInfo` JSON). @public */
export const SnpPlatformInfoSchema = z.strictObject({
  SMTEnabled: z.boolean().optional(),
  TSMEEnabled: z.boolean().optional(),
  ECCEnabled: z.boolean().optional(),
  RAPLDisabled: z.boolean().optional(),
  CiphertextHidingDRAMEnabled: z.boolean().optional(),
  AliasCheckComplete: z.boolean().optional(),
  TIOEnabled: z.boolean().optional(),
});

/** @public */
export const SnpReferenceValuesSchema = z.strictObject({
  Platform: z.string().optional().describe('The platform these values are for, e.g. "Metal-QEMU-SNP".'),
  Insecure: z
    .boolean()
    .optional()
    .describe('True for simulated platforms (set by generate); never mixed with secure entries.'),
  ProductName: z.string().optional().describe('"Milan" or "Genoa".'),
  TrustedMeasurement: HexStringSchema.optional().describe('48-byte launch MEASUREMENT.'),
  APEIP: HexStringSchema.optional().describe('4-byte SEV-ES AP reset EIP (OVMF footer).'),
  MinimumTCB: SnpTcbSchema.optional(),
  GuestPolicy: SnpGuestPolicySchema.optional(),
  PlatformInfo: SnpPlatformInfoSchema.optional(),
  MinimumMitigationVector: z.number().int().min(0).optional(),
  AllowedChipIDs: z.array(HexStringSchema).nullable().optional().describe('64-byte CHIP_IDs; empty: any.'),
});

/** @public */
export const TdxReferenceValuesSchema = z.strictObject({
  Platform: z.string().optional().describe('The platform these values are for, e.g. "Metal-QEMU-TDX".'),
  Insecure: z.boolean().optional().describe('True for simulated platforms (set by generate).'),
  MinTCBEvaluationDataNumber: z.number().int().min(0).optional(),
  MrTd: HexStringSchema.optional().describe('48-byte MRTD.'),
  MrSeam: HexStringSchema.optional().describe('48-byte MRSEAM (sha384 of the TDX module); user-filled.'),
  Rtmrs: z.array(HexStringSchema).optional().describe('RTMR0-3, 48 bytes each.'),
  Rtmr0Alternatives: z.array(HexStringSchema).nullable().optional(),
  Xfam: HexStringSchema.optional().describe('8-byte XFAM.'),
  AllowedPIIDs: z.array(HexStringSchema).nullable().optional().describe('16-byte PIIDs; empty: any.'),
  MemoryIntegrity: z.boolean().optional(),
  SMTDisabled: z.boolean().optional(),
  StaticPlatform: z.boolean().optional(),
});

/** @public */
export const ReferenceValuesSchema = z.strictObject({
  snp: z.array(SnpReferenceValuesSchema).nullable().optional(),
  tdx: z.array(TdxReferenceValuesSchema).nullable().optional(),
});

/** @public */
export const ManifestSchema = z
  .strictObject({
    Policies: z
      .record(z.string(), PolicyEntrySchema)
      .describe('Allowed workloads, keyed by the hex sha256 policy hash (initdata digest).'),
    ReferenceValues: ReferenceValuesSchema,
    WorkloadOwnerPubKeys: z
      .array(HexStringSchema)
      .nullable()
      .optional()
      .describe('ECDSA public keys (PKIX DER, hex) allowed to update the manifest.'),
    WorkloadOwnerKeyDigests: z
      .array(HexStringSchema)
      .nullable()
      .optional()
      .describe('Older form: hex sha256 of the PKIX DER of each workload owner key.'),
    SeedshareOwnerPubKeys: z
      .array(HexStringSchema)
      .nullable()
      .optional()
      .describe('RSA public keys (PKCS#1 DER, hex) the seed is shared to.'),
    SeedshareThreshold: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(255, 'must be at most 255')
      .optional()
      .describe(
        'k of a k-of-n seed split: any k seed-share owners together recover the Coordinator, fewer cannot. Absent: 1 (each owner alone, upstream behaviour). At most the number of SeedshareOwnerPubKeys.',
      ),
  })
  .describe('The Contrast manifest.');

/** @public */
export type Manifest = z.infer<typeof ManifestSchema>;
/** @public */
export type PolicyEntry = z.infer<typeof PolicyEntrySchema>;
/** @public */
export type ReferenceValues = z.infer<typeof ReferenceValuesSchema>;
/** @public */
export type SnpReferenceValues = z.infer<typeof SnpReferenceValuesSchema>;
/** @public */
export type TdxReferenceValues = z.infer<typeof TdxReferenceValuesSchema>;
