// How `contrast verify` and `contrast evidence verify --bundle` report a Coordinator verdict: the
// same JSON document and messages for a live check and for a stored bundle.

import type { CoordinatorReport, CoordinatorVerdict } from '@contrast-cc/api';
import { toHex } from '@contrast-cc/core';
import { operationFailed } from './util.js';

/** The `--json` document of a verdict (the same for a live check and a bundle). */
export function verdictJson(verdict: CoordinatorVerdict): Record<string, unknown> {
  const report = verdict.ok ? verdict.report : verdict.report;
  const claims = verdict.ok ? verdict.report.claims : verdict.claims;
  return {
    ok: verdict.ok,
    ...(verdict.ok
      ? {}
      : {
          reason: { code: verdict.reason.code, message: verdict.reason.message, field: verdict.reason.field },
        }),
    ...(report
      ? {
          status: report.status,
          transitionHash: report.transitionHash,
          manifestHash: report.manifestHash,
          manifests: report.manifests.length,
          policies: report.policies.length,
          rootCaFingerprint: report.rootCaFingerprint,
          matches: verdict.ok,
        }
      : {}),
    ...(claims
      ? {
          insecure: claims.insecure,
          claims: {
            kind: claims.kind,
            measurement: claims.measurement,
            policyDigest: claims.policyDigest,
            reportData: toHex(claims.reportData),
          },
        }
      : {}),
  };
}

/** Throws the CLI failure (exit 1) for a verdict that is not ok, with its reason. */
export function failureOf(
  verdict: CoordinatorVerdict,
  manifestMismatch: (report: CoordinatorReport) => string,
): never {
  if (verdict.ok) throw new Error('failureOf: the verdict is ok');
  const { reason } = verdict;
  if (reason.code === 'manifest-mismatch' && verdict.report)
    throw operationFailed(manifestMismatch(verdict.report));
  if (reason.code === 'not-active') {
    throw operationFailed(
      /recovery/.test(reason.message)
        ? 'the Coordinator is in recovery mode: run "contrast recover" with a seed-share owner key (k owners\' shares with --share when the seed is split k-of-n, see "contrast recover --help")'
        : 'the Coordinator has no manifest yet: run "contrast set" first',
    );
  }
  throw operationFailed(
    `the Coordinator failed attestation: ${reason.code}${reason.field ? ` (${reason.field})` : ''}: ${reason.message}`,
  );
}
