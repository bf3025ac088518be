import { isContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { readPem } from './pem.js';

const b64 = Buffer.from(Uint8Array.from({ length: 100 }, (_, i) => i)).toString('base64');
const lines = (s: string) => s.match(/.{1,64}/g)!.join('\n');
const body = lines(b64);
const block = (label = 'CERTIFICATE', inner = body) =>
  `-----BEGIN ${label}-----\n${inner}\n-----END ${label}-----\n`;

function failure(text: string, options: Parameters<typeof readPem>[2] = {}) {
  try {
    readPem(text, 'chain', options);
  } catch (e) {
    if (isContrastError(e)) return { code: e.code, field: e.field, message: e.message };
    throw e;
  }
  return 'accepted';
}

describe('readPem', () => {
  it('decodes blocks in order, lax (CRLF, indentation, explanatory text) and exact', () => {
    const two = block() + block();
    expect(readPem(two, 'chain', { exact: true }).map((b) => b.der.length)).toEqual([100, 100]);
    expect(readPem(two.replaceAll('\n', '\r\n'), 'chain', { exact: true })).toHaveLength(2);
    const lax = `Subject: x\n  ${block().replaceAll('\n', '\r\n  ')}trailing words`;
    expect(readPem(lax, 'chain')[0]!.der).toEqual(Uint8Array.from({ length: 100 }, (_, i) => i));
  });

  it('refuses a corrupted block in either form, naming the block', () => {
    const cases: [string, string][] = [
      [block() + block().replace('BEGIN', 'BEGIM'), 'chain'],
      [block() + block().replace('-----BEGIN', ',----BEGIN'), 'chain'],
      [block() + block().replace('END CERTIFICATE', 'END CERTIFICATF'), 'chain[1]'],
      [block() + block().replace('\n-----END CERTIFICATE-----\n', '\n'), 'chain[1]'],
      [block().replace(body, `${body.slice(0, 10)}\v${body.slice(10)}`), 'chain[0]'],
      [block().replace(body, `${body.slice(0, 10)}*${body.slice(11)}`), 'chain[0]'],
      [block().replace(body, ''), 'chain[0]'],
      [block('PRIVATE KEY'), 'chain[0]'],
    ];
    for (const [text, field] of cases) {
      for (const exact of [false, true]) {
        expect(failure(text, { exact }), `${JSON.stringify(text.slice(0, 40))} exact=${exact}`).toMatchObject(
          {
            code: 'invalid-argument',
            field,
          },
        );
      }
    }
  });

  it('refuses base64 that is not canonical (set padding bits, misplaced "=")', () => {
    // 100 bytes: "...AAYWJiY2" style ending with "=="? 100 % 3 = 1, so two "=": the last data
    // character carries 4 unused bits.
    expect(b64.endsWith('==')).toBe(true);
    const i = b64.length - 3;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const changed = `${b64.slice(0, i)}${alphabet[alphabet.indexOf(b64[i]!) ^ 1]}==`;
    expect(Buffer.from(changed, 'base64')).toEqual(Buffer.from(b64, 'base64'));
    const text = block('CERTIFICATE', lines(changed));
    expect(failure(text)).toMatchObject({
      field: 'chain[0]',
      message: 'PEM block 0 is not canonical base64',
    });
    expect(failure(block('CERTIFICATE', lines(`${b64.slice(0, 8)}=${b64.slice(9)}`)))).toMatchObject({
      field: 'chain[0]',
    });
  });

  it('exact form: nothing outside the blocks, 64-character lines, one line ending, a final break', () => {
    const cases: [string, string][] = [
      [`${block()}\n${block()}`, 'blank line'],
      [`x\n${block()}`, 'text before'],
      [block().slice(0, -1), 'no final break'],
      [block().replace('\n', '\r\n'), 'mixed endings'],
      [block('CERTIFICATE', `${b64.slice(0, 60)}\n${b64.slice(60)}`), 'short line'],
      [block('CERTIFICATE', ` ${body}`), 'indented'],
    ];
    for (const [text, name] of cases) {
      expect(failure(text, { exact: true }), name).toMatchObject({ code: 'invalid-argument' });
      expect(failure(text), `${name} (lax)`).toBe('accepted');
    }
  });
});
