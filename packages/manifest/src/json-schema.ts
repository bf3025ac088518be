import { z } from 'zod';
import { ManifestSchema } from './schema.js';

/**
 * The manifest's JSON Schema (draft 2020-12), generated from the zod schema. The committed copy is
 * `manifest.schema.json`; `pnpm --filter @contrast-cc/manifest schema` rewrites it and a test fails
 * when it drifts.
 * @public
 */
export function manifestJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ManifestSchema, { target: 'draft-2020-12', io: 'input' }) as Record<
    string,
    unknown
  >;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: 'https://contrast-cc.github.io/schemas/manifest.schema.json',
    title: 'Contrast manifest',
    ...rest,
  };
}

/** The JSON Schema as the committed file holds it: two-space indented, trailing newline. @public */
export function manifestJsonSchemaText(): string {
  return `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`;
}
