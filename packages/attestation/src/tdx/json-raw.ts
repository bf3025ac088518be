import { ContrastError } from '@contrast-cc/core';

/**
 * Finds the exact bytes of a top-level member's value in a JSON object document, without
 * re-serialising anything: Intel signs `tcbInfo` / `enclaveIdentity` exactly as they appear in
 * the PCS response body. Works on bytes (JSON's structural characters are ASCII, so multi-byte
 * UTF-8 sequences can never be mistaken for them).
 */
export function rawJsonMember(doc: Uint8Array, key: string, field: string): Uint8Array | undefined {
  const fail = (msg: string) => new ContrastError('invalid-argument', `not a JSON object: ${msg}`, { field });
  let i = 0;
  const ws = () => {
    while (i < doc.length && (doc[i] === 0x20 || doc[i] === 0x0a || doc[i] === 0x0d || doc[i] === 0x09)) i++;
  };
  const skipString = () => {
    // at the opening quote
    i++;
    while (i < doc.length) {
      const c = doc[i]!;
      if (c === 0x5c) i += 2;
      else if (c === 0x22) {
        i++;
        return;
      } else i++;
    }
    throw fail('unterminated string');
  };
  const skipValue = () => {
    const c = doc[i];
    if (c === 0x22) return skipString();
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      while (i < doc.length) {
        const d = doc[i]!;
        if (d === 0x22) {
          skipString();
          continue;
        }
        if (d === 0x7b || d === 0x5b) depth++;
        else if (d === 0x7d || d === 0x5d) {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      throw fail('unbalanced brackets');
    }
    while (i < doc.length && ![0x2c, 0x7d, 0x5d, 0x20, 0x0a, 0x0d, 0x09].includes(doc[i]!)) i++;
  };
  ws();
  if (doc[i] !== 0x7b) throw fail('expected "{"');
  i++;
  for (;;) {
    ws();
    if (doc[i] === 0x7d) return undefined;
    if (doc[i] !== 0x22) throw fail('expected a member name');
    const nameStart = i;
    skipString();
    let name: unknown;
    try {
      name = JSON.parse(new TextDecoder().decode(doc.subarray(nameStart, i)));
    } catch {
      // A control character or a bad escape in the name: refused like any other malformed input
      // (a raw SyntaxError made verifyTdxQuote throw instead of returning a result; found by fuzzing).
      throw fail('malformed member name');
    }
    ws();
    if (doc[i] !== 0x3a) throw fail('expected ":"');
    i++;
    ws();
    const valueStart = i;
    skipValue();
    if (valueStart === i) throw fail('empty value');
    if (name === key) return doc.subarray(valueStart, i);
    ws();
    if (doc[i] === 0x2c) {
      i++;
      continue;
    }
    if (doc[i] === 0x7d) return undefined;
    throw fail('expected "," or "}"');
  }
}
