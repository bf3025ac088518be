import { definePackageBuild } from '@contrast-cc/build-config/tsup';

export default definePackageBuild({
  entry: {
    index: 'src/index.ts',
    'snp/index': 'src/snp/index.ts',
    'tdx/index': 'src/tdx/index.ts',
    browser: 'src/browser.ts',
    'testing/index': 'src/testing/index.ts',
  },
});
