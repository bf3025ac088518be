import { sourceConditions } from '@contrast-cc/build-config/vitest';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions, externalConditions: ['@contrast-cc/source'] } },
  test: { name: 'e2e', include: ['*.test.mjs'], testTimeout: 120_000, hookTimeout: 120_000 },
});
