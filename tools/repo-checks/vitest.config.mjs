import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'repo-checks', include: ['*.test.mjs'], testTimeout: 60_000 } });
