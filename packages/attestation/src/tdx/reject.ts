import type { VerifyFailure, VerifyFailureCode } from '@contrast-cc/core';

/** Internal: thrown inside the verifier pipeline, turned into a failed VerifyResult at its edge. */
export class Reject extends Error {
  readonly reason: VerifyFailure;
  constructor(code: VerifyFailureCode, message: string, field?: string) {
    super(message);
    this.reason = field === undefined ? { code, message } : { code, message, field };
  }
}
