import { defineConfig } from 'vitest/config';

// One run over every workspace project; each project keeps its own vitest.config.
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'platforms/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'tools/*/vitest.config.{ts,mjs}',
      'examples/*/vitest.config.ts',
    ],
  },
});
