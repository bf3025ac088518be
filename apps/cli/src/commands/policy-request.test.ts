import { normalizeRequest, REQUEST_KINDS } from '@contrast-cc/policy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CliFailure } from '../util.js';
import { locateJsonError, parseRequestFile } from './policy-request.js';

const options = {
  file: 'req.json',
  defaultKind: 'CreateContainerRequest',
  kinds: REQUEST_KINDS,
  normalize: normalizeRequest,
};

function failure(text: string, extra: Partial<typeof options> & { flagKind?: string } = {}): string {
  try {
    parseRequestFile(text, { ...options, ...extra });
  } catch (e) {
    expect(e).toBeInstanceOf(CliFailure);
    expect((e as CliFailure).code).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a failure');
}

describe('locateJsonError', () => {
  it('finds nothing wrong in any valid JSON, compact or indented', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (v, pretty) => {
        expect(locateJsonError(JSON.stringify(v, null, pretty ? 2 : undefined))).toBeUndefined();
      }),
    );
  });

  it('finds a place in every text JSON.parse refuses (cut or corrupted JSON)', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.nat(),
        fc.constantFrom('', '}', ',', ']', '"', 'x', '\n'),
        (v, cut, junk) => {
          const text = JSON.stringify(v, null, 2);
          const broken = text.slice(0, cut % (text.length + 1)) + junk;
          let valid = true;
          try {
            JSON.parse(broken);
          } catch {
            valid = false;
          }
          const at = locateJsonError(broken);
          if (valid) expect(at).toBeUndefined();
          else {
            expect(at).toBeDefined();
            expect(at?.line).toBeLessThanOrEqual(broken.split('\n').length);
          }
        },
      ),
    );
  });

  it('names the field being read', () => {
    expect(locateJsonError('{"OCI": {"Process": {"Args": ["a", }}}')).toEqual({
      line: 1,
      column: 36,
      field: 'OCI.Process.Args[1]',
    });
    expect(locateJsonError('[{"kind": "X"}, {"request": tru}]')).toMatchObject({ field: '[1].request' });
  });
});

describe('parseRequestFile', () => {
  it('takes a bare request, a {kind, request} step, an array and JSON Lines', () => {
    expect(parseRequestFile('{"container_id": "a"}', options)).toEqual([
      { kind: 'CreateContainerRequest', request: { container_id: 'a' }, where: '' },
    ]);
    expect(
      parseRequestFile('{"container_id": "a"}', { ...options, flagKind: 'RemoveContainerRequest' })[0]?.kind,
    ).toBe('RemoveContainerRequest');
    const steps = parseRequestFile(
      JSON.stringify([
        { kind: 'ExecProcessRequest', request: { container_id: 'a' }, description: 'probe', allowed: true },
        { container_id: 'b' },
      ]),
      options,
    );
    expect(steps.map((s) => [s.kind, s.where, s.description])).toEqual([
      ['ExecProcessRequest', '[0]', 'probe'],
      ['CreateContainerRequest', '[1]', undefined],
    ]);
    const log = parseRequestFile(
      '{"kind":"CreateContainerRequest","request":{"container_id":"a"}}\r\n\n{"kind":"StartContainerRequest","request":{"container_id":"a"}}\n',
      options,
    );
    expect(log.map((s) => [s.kind, s.where])).toEqual([
      ['CreateContainerRequest', 'line 1'],
      ['StartContainerRequest', 'line 3'],
    ]);
  });

  it('refuses what the agent could not have received, naming file and field', () => {
    expect(failure('')).toBe('--request req.json: is empty; expected the request JSON');
    expect(failure('[]')).toContain('is an empty array');
    expect(failure('42')).toContain('expected a JSON object');
    expect(failure('{"OCI": {"Process": {"Args": "sh"}}}')).toBe(
      '--request req.json: OCI.Process.Args: expected a list',
    );
    expect(failure('{"OCI": {"Annotations": {"a": 1}}}')).toBe(
      '--request req.json: OCI.Annotations.a: expected string, got 1',
    );
    expect(failure('{"oci": {}}')).toMatch(
      /^--request req\.json: oci: is not a field of CreateContainerRequest/,
    );
    expect(
      failure('{"kind": "ExecProcessRequest", "request": {}}', { flagKind: 'CreateContainerRequest' }),
    ).toBe('--request req.json: kind: is ExecProcessRequest, but --request-type says CreateContainerRequest');
    expect(failure('{}', { flagKind: 'create' })).toMatch(/^--request-type: "create" is not a request type/);
    expect(failure('{"a": 1}\n{"a": }\n')).toBe('--request req.json: line 2: a: not valid JSON at column 7');
  });
});
