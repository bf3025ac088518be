import { createRequire } from 'node:module';

/** The CLI's version, from its package.json (same relative path from src/ and dist/). */
export function cliVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('../package.json') as { version: string }).version;
}
