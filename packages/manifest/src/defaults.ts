import type { SnpReferenceValues } from './schema.js';

/**
 * SNP guest policy fields that must keep their default (off): upstream refuses a manifest that
 * changes them ("modifying this field is not permitted"). Validation and the defaults below
 * share this list.
 */
export const SNP_GUEST_POLICY_FIXED_OFF = [
  'MigrateMA',
  'Debug',
  'SingleSocket',
  'CXLAllowed',
  'MemAES256XTS',
  'RAPLDis',
  'CipherTextHidingDRAM',
] as const;

/**
 * The policy part of a default `ReferenceValues.snp` entry, as upstream writes it: guest policy
 * ABI 0.`abiMinor` with SMT allowed and every fixed field off, a platform with SMT enabled, no
 * minimum mitigation vector and no chip-ID restriction. Platforms add their own product,
 * measurement and TCB.
 * @public
 */
export function defaultSnpPolicyValues(abiMinor = 0): Required<
  Pick<SnpReferenceValues, 'GuestPolicy' | 'PlatformInfo' | 'MinimumMitigationVector'>
> & {
  AllowedChipIDs: string[];
} {
  return {
    GuestPolicy: {
      ABIMinor: abiMinor,
      ABIMajor: 0,
      SMT: true,
      ...Object.fromEntries(SNP_GUEST_POLICY_FIXED_OFF.map((field) => [field, false])),
    },
    PlatformInfo: { SMTEnabled: true },
    MinimumMitigationVector: 0,
    AllowedChipIDs: [],
  };
}
