import { describe, expect, it } from 'vitest';
import { defaultSnpPolicyValues } from './defaults.js';
import { checkReferenceValues } from './validate.js';

describe('defaultSnpPolicyValues', () => {
  it('is upstream’s default SNP policy part, in upstream’s field order', () => {
    const values = defaultSnpPolicyValues();
    expect(JSON.stringify(values)).toBe(
      JSON.stringify({
        GuestPolicy: {
          ABIMinor: 0,
          ABIMajor: 0,
          SMT: true,
          MigrateMA: false,
          Debug: false,
          SingleSocket: false,
          CXLAllowed: false,
          MemAES256XTS: false,
          RAPLDis: false,
          CipherTextHidingDRAM: false,
        },
        PlatformInfo: { SMTEnabled: true },
        MinimumMitigationVector: 0,
        AllowedChipIDs: [],
      }),
    );
    expect(defaultSnpPolicyValues(31).GuestPolicy.ABIMinor).toBe(31);
  });

  it('gives fresh objects and passes the schema', () => {
    const a = defaultSnpPolicyValues();
    a.AllowedChipIDs.push('00');
    expect(defaultSnpPolicyValues().AllowedChipIDs).toEqual([]);
    expect(
      checkReferenceValues('snp', [
        { ProductName: 'Genoa', TrustedMeasurement: 'ab'.repeat(48), ...defaultSnpPolicyValues() },
      ]),
    ).toEqual([]);
  });
});
