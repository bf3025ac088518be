import { API_ERROR_STATUS, ApiErrorBodySchema } from '@contrast-cc/api';
import { ContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { AUTHORITY_ERROR_KINDS, AuthorityError } from '../errors.js';
import { AUTHORITY_ERROR_WIRE, toWireError } from './errors.js';

describe('AUTHORITY_ERROR_WIRE (domain errors -> HTTP)', () => {
  it('maps every kind, with the status the API gives its code', () => {
    expect(Object.keys(AUTHORITY_ERROR_WIRE).sort()).toEqual([...AUTHORITY_ERROR_KINDS].sort());
    for (const { status, code } of Object.values(AUTHORITY_ERROR_WIRE)) {
      expect(status).toBe(API_ERROR_STATUS[code]);
    }
  });

  it('answers an AuthorityError with its wire code, message and field', () => {
    const answer = toWireError(
      new AuthorityError('manifest-conflict', 'retry', { field: 'previous_transition_hash' }),
    );
    expect(answer).toEqual({
      status: 412,
      body: { version: 'v1', code: 'manifest_conflict', error: 'retry', field: 'previous_transition_hash' },
    });
    expect(ApiErrorBodySchema.parse(answer.body)).toEqual(answer.body);
    expect(toWireError(new AuthorityError('challenge-required', 'nonce')).status).toBe(401);
  });

  it('leaves other errors to the API mapping (internal messages stay out of the answer)', () => {
    expect(toWireError(new Error('/etc/secret path'))).toEqual({
      status: 500,
      body: { version: 'v1', code: 'internal', error: 'internal error' },
    });
    expect(toWireError(new ContrastError('not-found', 'gone')).body.code).toBe('not_found');
  });
});
