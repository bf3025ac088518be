import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { manifestJsonSchema, manifestJsonSchemaText } from './json-schema.js';

const committed = fileURLToPath(new URL('../manifest.schema.json', import.meta.url));

describe('manifest.schema.json', () => {
  // Regenerate with `pnpm --filter @contrast-cc/manifest schema` (vitest -u on this test).
  it('the committed file equals a fresh generation from the zod schema', async () => {
    await expect(manifestJsonSchemaText()).toMatchFileSnapshot(committed);
  });

  it('is strict and describes the upstream top-level fields (and our SeedshareThreshold)', () => {
    const schema = JSON.parse(readFileSync(committed, 'utf8'));
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['Policies', 'ReferenceValues']);
    expect(Object.keys(schema.properties)).toEqual([
      'Policies',
      'ReferenceValues',
      'WorkloadOwnerPubKeys',
      'WorkloadOwnerKeyDigests',
      'SeedshareOwnerPubKeys',
      'SeedshareThreshold',
    ]);
    expect(manifestJsonSchema().$id).toBe(schema.$id);
  });
});
