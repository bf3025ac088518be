// The ONE test preset. Tests run against `src/` of every workspace package through the
// `@contrast-cc/source` export condition, so `test` never waits for `build`.
import { defineConfig } from 'vitest/config';

export const sourceConditions = ['@contrast-cc/source', 'module', 'node', 'import', 'default'];

/**
 * @param {{ name: string, testTimeout?: number, commonJsRequire?: boolean }} options
 *   commonJsRequire: vitest hands the SSR conditions to the test workers' Node as --conditions,
 *   and those apply to require() too: with 'import' among them, a CommonJS package requiring a
 *   dual package gets the ESM wrapper's namespace instead of its CommonJS export (isomorphic-ws
 *   -> ws, so @kubernetes/client-node's WebSocket "is not a constructor"). true leaves 'import'
 *   out of them, as Node resolves outside the tests.
 */
export function definePackageTest({ name, testTimeout = 20_000, commonJsRequire = false }) {
  const ssrConditions = commonJsRequire ? sourceConditions.filter((c) => c !== 'import') : sourceConditions;
  return defineConfig({
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: ssrConditions, externalConditions: ['@contrast-cc/source'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout,
      hookTimeout: testTimeout,
      environment: 'node',
    },
  });
}
