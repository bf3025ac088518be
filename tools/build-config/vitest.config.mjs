import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'build-config', include: ['*.test.mjs'], testTimeout: 60_000 } });
