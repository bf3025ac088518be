import { ContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { API_ERROR_CODES, API_ERROR_STATUS, apiFailure, parseRequest, toApiError } from './errors.js';
import { MeshCertRequestSchema, SetManifestRequestSchema } from './schemas.js';

describe('API errors', () => {
  it('maps library errors to wire codes and statuses as upstream', () => {
    const cases: [ContrastError, string, number][] = [
      [new ContrastError('invalid-argument', 'bad', { field: 'manifest' }), 'invalid_argument', 400],
      [new ContrastError('permission-denied', 'no'), 'permission_denied', 403],
      [new ContrastError('attestation-failed', 'no'), 'attestation_failed', 403],
      [new ContrastError('conflict', 'lost'), 'manifest_conflict', 412],
      [apiFailure('needs_recovery', 'stale'), 'needs_recovery', 412],
      [apiFailure('invalid_signature', 'sig'), 'invalid_signature', 403],
      [new ContrastError('io-error', '/secret/path failed'), 'internal', 500],
    ];
    for (const [err, code, status] of cases) {
      const out = toApiError(err);
      expect(out.body.code).toBe(code);
      expect(out.status).toBe(status);
    }
    expect(toApiError(new ContrastError('invalid-argument', 'bad', { field: 'manifest' })).body.field).toBe(
      'manifest',
    );
    // Internal details stay out of the answer.
    expect(toApiError(new ContrastError('io-error', '/secret/path failed')).body.error).toBe(
      'internal error',
    );
    expect(toApiError(new Error('boom')).status).toBe(500);
    for (const code of API_ERROR_CODES) expect(API_ERROR_STATUS[code]).toBeGreaterThanOrEqual(400);
  });

  it('parseRequest names the invalid field', () => {
    expect(() => parseRequest(SetManifestRequestSchema, { manifest: '***', policies: [] })).toThrow(
      /manifest/,
    );
    try {
      parseRequest(SetManifestRequestSchema, {
        manifest: 'AAAA',
        policies: [],
        previous_transition_hash: 'xyz',
      });
      expect.unreachable();
    } catch (e) {
      expect((e as ContrastError).field).toBe('previous_transition_hash');
      expect(toApiError(e).status).toBe(400);
    }
    expect(() => parseRequest(MeshCertRequestSchema, { nonce: 'AAAA', extra: 1 })).toThrow();
    expect(parseRequest(MeshCertRequestSchema, {})).toEqual({});
  });
});
