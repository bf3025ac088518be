import { definePackageBuild } from '@contrast-cc/build-config/tsup';

export default definePackageBuild({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
});
