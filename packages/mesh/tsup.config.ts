import { definePackageBuild } from '@contrast-cc/build-config/tsup';

export default definePackageBuild({
  entry: {
    index: 'src/index.ts',
    'config-index': 'src/config-index.ts',
    'volume-integrity': 'src/volume-integrity.ts',
  },
});
