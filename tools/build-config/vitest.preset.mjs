// The ONE test preset. Tests run against `src/` of every workspace package through the
// `@contrast-cc/source` export condition, so `test` never waits for `build`.
import { defineConfig } from 'vitest/config';

export const sourceConditions = ['@contrast-cc/source', 'module', 'node', 'import', 'default'];

/** @param {{ name: string, testTimeout?: number }} options */
export function definePackageTest({ name, testTimeout = 20_000 }) {
  return defineConfig({
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: sourceConditions, externalConditions: ['@contrast-cc/source'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout,
      hookTimeout: testTimeout,
      environment: 'node',
    },
  });
}
