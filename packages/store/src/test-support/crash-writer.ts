// Child process for the crash test: commits manifests into a directory store in a loop, as fast
// as it can, retrying on conflict, until it is killed. Reports each commit on stdout.
// argv: <store dir> <writer id>; env CRASH_HMAC_KEY: hex key of the test signature.
import { createHmac } from 'node:crypto';
import { isContrastError } from '@contrast-cc/core';
import { DirectoryHistoryStore } from '../dir-store.js';
import { History } from '../history.js';

const [dir, id] = process.argv.slice(2);
const key = Buffer.from(process.env['CRASH_HMAC_KEY'] ?? '', 'hex');
if (!dir || !id || key.length === 0) {
  process.stderr.write('usage: crash-writer <dir> <id> (CRASH_HMAC_KEY set)\n');
  process.exit(2);
}

const store = await DirectoryHistoryStore.open(dir);
const history = new History({
  store,
  sign: (hash) => new Uint8Array(createHmac('sha256', key).update(hash).digest()),
});
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  const latest = await store.getLatest();
  // Manifests of varying size, so kills land inside writes of different lengths.
  const manifest = new TextEncoder().encode(`writer ${id} manifest ${i} ${'x'.repeat((i * 7919) % 20000)}`);
  const policy = new TextEncoder().encode(`writer ${id} policy ${i % 5}`);
  try {
    const c = await history.commitManifest(manifest, [policy], latest);
    process.stdout.write(`committed ${c.version}\n`);
  } catch (error) {
    if (!isContrastError(error) || error.code !== 'conflict') throw error;
  }
}
