import {
  type CoordinatorExpectations,
  ExpectedCoordinatorSchema,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import type { CollateralConfig } from '@contrast-cc/attestation';
import { ContrastError, createPlatformRegistry, type Logger, type Platform } from '@contrast-cc/core';
import { createFakePlatform, FakeVerifier } from '@contrast-cc/core/testing';
import { createPlatformCatalog } from '@contrast-cc/platforms';

/** The variable `contrast generate` writes the expected Coordinator into (JSON). */
export const EXPECTED_COORDINATOR_ENV = 'CONTRAST_EXPECTED_COORDINATOR';

/**
 * Reads `CONTRAST_EXPECTED_COORDINATOR` (JSON: `policyHashes`, `referenceValues`, optional
 * `rootCa`) into the checks the initializer applies to the Coordinator before it sends evidence.
 * Verifiers come from the platform catalog (`@contrast-cc/platforms`: the real platforms, AKS
 * included); with `allowInsecure` also the simulated ones and, for
 * the fake issuer, a fake platform checking `TrustedMeasurement`. Errors name the variable and field.
 */
export function coordinatorExpectations(
  text: string,
  options: { allowInsecure: boolean; fakeIssuer: boolean; logger: Logger; collateral?: CollateralConfig },
): CoordinatorExpectations {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ContrastError('invalid-argument', 'is not JSON', { field: EXPECTED_COORDINATOR_ENV });
  }
  const parsed = ExpectedCoordinatorSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ContrastError('invalid-argument', issue.message, {
      field: [EXPECTED_COORDINATOR_ENV, ...issue.path].join('.'),
    });
  }
  // The one platform list (as the CLI and the Coordinator); a bare Coordinator quote gets its
  // collateral from AMD KDS / Intel PCS unless `collateral` says otherwise.
  const platforms: Platform[] = [
    ...createPlatformCatalog({
      simulated: options.allowInsecure,
      ...(options.collateral ? { collateral: options.collateral } : {}),
    }).platforms,
  ];
  if (options.allowInsecure && options.fakeIssuer) {
    const fake = createFakePlatform();
    platforms.push(
      createFakePlatform({
        attestation: {
          ...fake.attestation,
          createVerifier: ({ referenceValues }) =>
            new FakeVerifier({
              measurement: (referenceValues as { TrustedMeasurement?: string }).TrustedMeasurement,
            }),
        },
      }),
    );
  }
  const { policyHashes, referenceValues, rootCa } = parsed.data;
  return {
    verifiers: verifiersForReferenceValues(
      createPlatformRegistry(platforms),
      referenceValues,
      options.logger,
    ),
    policyHashes,
    ...(rootCa ? { rootCa } : {}),
    allowInsecure: options.allowInsecure,
  };
}
