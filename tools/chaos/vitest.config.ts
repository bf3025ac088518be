import { definePackageTest } from '@contrast-cc/build-config/vitest';

export default definePackageTest({ name: 'chaos', testTimeout: 240_000 });
