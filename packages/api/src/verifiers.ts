import {
  ContrastError,
  type Logger,
  noopLogger,
  type PlatformRegistry,
  type Verifier,
} from '@contrast-cc/core';
import type { ReferenceValues } from '@contrast-cc/manifest';

/**
 * Builds one verifier per entry of a manifest's ReferenceValues, from the platform the entry
 * names (`Platform`) or, without a name, from every registered platform of that TEE family.
 * Throws `invalid-argument` naming the entry when no registered platform can check it (fail
 * closed: an entry nobody verifies would silently accept nothing or, worse, be skipped).
 * @public
 */
export function verifiersForReferenceValues(
  registry: PlatformRegistry,
  referenceValues: ReferenceValues,
  logger: Logger = noopLogger,
): Verifier[] {
  const out: Verifier[] = [];
  for (const tee of ['snp', 'tdx'] as const) {
    (referenceValues[tee] ?? []).forEach((entry, i) => {
      const field = `ReferenceValues.${tee}[${i}]`;
      const platforms = entry.Platform
        ? [registry.find(entry.Platform)].filter((p) => p !== undefined)
        : registry.list().filter((p) => p.attestation.tee === tee);
      if (platforms.length === 0) {
        throw new ContrastError(
          'invalid-argument',
          entry.Platform
            ? `platform "${entry.Platform}" is not known to this program`
            : `no registered platform verifies ${tee} evidence`,
          { field: entry.Platform ? `${field}.Platform` : field },
        );
      }
      for (const p of platforms) {
        if (p.attestation.tee !== tee) {
          throw new ContrastError('invalid-argument', `platform "${p.id}" is not a ${tee} platform`, {
            field: `${field}.Platform`,
          });
        }
        out.push(
          p.attestation.createVerifier({
            referenceValues: entry,
            logger: logger.child({ platform: p.id, referenceValues: field }),
          }),
        );
      }
    });
  }
  return out;
}
