import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  assemblePolicyText,
  bindingValue,
  buildInitdataToml,
  decodeInitdataAnnotation,
  encodeInitdataAnnotation,
  initdataDigest,
  legacyPolicyDigest,
  parseInitdataToml,
  policyTextFromAny,
} from './assemble.js';
import { applyJsonPatch } from './json-patch.js';

describe('policy assembly and binding', () => {
  const text = assemblePolicyText('package agent_policy\n', {
    containers: [],
    common: { a: "it's" },
  } as never);

  it('policy text = rules + "\\npolicy_data := " + pretty JSON', () => {
    expect(text).toBe(
      'package agent_policy\n\npolicy_data := {\n  "containers": [],\n  "common": {\n    "a": "it\'s"\n  }\n}',
    );
  });

  it('initdata TOML round-trips the exact policy text and hashes its own bytes', () => {
    const toml = buildInitdataToml({ 'policy.rego': text });
    expect(parseInitdataToml(toml)).toEqual({
      version: '0.1.0',
      algorithm: 'sha256',
      data: { 'policy.rego': text },
    });
    expect(initdataDigest(toml)).toBe(createHash('sha256').update(toml).digest('hex'));
    const t384 = buildInitdataToml({ 'policy.rego': "ends with '" }, { algorithm: 'sha384' });
    expect(parseInitdataToml(t384).data['policy.rego']).toBe("ends with '");
    expect(initdataDigest(t384)).toHaveLength(96);
    const anno = encodeInitdataAnnotation(toml);
    expect(decodeInitdataAnnotation(anno)).toBe(toml);
    expect(policyTextFromAny(anno)).toBe(text);
  });

  it('legacy digest and platform field padding', () => {
    const d = legacyPolicyDigest(text);
    expect(d).toBe(createHash('sha256').update(text).digest('hex'));
    const mrconfigid = bindingValue(d, 48);
    expect(Buffer.from(mrconfigid.subarray(0, 32)).toString('hex')).toBe(d);
    expect([...mrconfigid.subarray(32)].every((b) => b === 0)).toBe(true);
    expect(policyTextFromAny(Buffer.from(text).toString('base64'))).toBe(text);
  });

  it('rejects bad initdata with the field named', () => {
    expect(() => parseInitdataToml('version = "0.1.0"\nalgorithm = "md5"\n')).toThrow(/algorithm/);
    expect(() => buildInitdataToml({}, { algorithm: 'md5' as never })).toThrow(/unsupported/);
  });
});

describe('JSON patch', () => {
  it('applies add/remove/replace and names the failing op', () => {
    const doc = { pstate: { a: 1 }, l: [1, 2] };
    expect(
      applyJsonPatch(doc, [
        { op: 'add', path: '/pstate/b', value: 2 },
        { op: 'remove', path: '/pstate/a' },
        { op: 'add', path: '/l/-', value: 3 },
        { op: 'replace', path: '/l/0', value: 0 },
      ]),
    ).toEqual({ pstate: { b: 2 }, l: [0, 2, 3] });
    expect(doc.pstate).toEqual({ a: 1 });
    expect(() => applyJsonPatch(doc, [{ op: 'remove', path: '/nope' }])).toThrow(/does not exist/);
  });
});
