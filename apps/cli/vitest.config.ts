import { definePackageTest } from '@contrast-cc/build-config/vitest';

// commonJsRequire: @kubernetes/client-node's WebSocket (port-forward) must load as outside the tests.
export default definePackageTest({ name: 'cli', commonJsRequire: true });
