// Type-level tests of the plugin contract: `tsc -b` fails if a @ts-expect-error line compiles.
import { describe, expectTypeOf, it } from 'vitest';
import type { Verifier } from './evidence.js';
import { definePlatform, type Platform, type PlatformSpec } from './platform.js';
import { createFakePlatform } from './testing/index.js';

const base: PlatformSpec = createFakePlatform();

describe('the Platform contract at the type level', () => {
  it('definePlatform returns a branded Platform', () => {
    expectTypeOf(definePlatform(base)).toEqualTypeOf<Platform>();
    expectTypeOf<Platform['$$type']>().toEqualTypeOf<'@contrast-cc/Platform'>();
    expectTypeOf<ReturnType<Platform['attestation']['createVerifier']>>().toEqualTypeOf<Verifier>();
  });

  it('rejects descriptors that miss a required part', () => {
    const { createVerifier: _dropped, ...attestationWithoutVerifier } = base.attestation;
    // @ts-expect-error a platform without a verifier factory does not compile
    const noVerifier: PlatformSpec = { ...base, attestation: attestationWithoutVerifier };
    const { runtime: _runtime, ...withoutRuntime } = base;
    // @ts-expect-error a platform without runtime does not compile
    const noRuntime: PlatformSpec = withoutRuntime;
    const magic = { ...base.attestation, policyBinding: 'magic' as const };
    // @ts-expect-error an unknown policy binding does not compile
    const badBinding: PlatformSpec = { ...base, attestation: magic };
    const sgx = { ...base.attestation, tee: 'sgx' as const };
    // @ts-expect-error a TEE family outside snp/tdx does not compile
    const badTee: PlatformSpec = { ...base, attestation: sgx };
    expectTypeOf([noVerifier, noRuntime, badBinding, badTee]).toBeArray();
  });

  it('does not let a plain object pass for a Platform', () => {
    // @ts-expect-error the brand and apiVersion come only from definePlatform
    const forged: Platform = { ...base, aliases: [], insecure: false };
    expectTypeOf(forged).toEqualTypeOf<Platform>();
  });
});
