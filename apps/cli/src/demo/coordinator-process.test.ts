import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { captureIo } from '../test-support/harness.js';
import { coordinatorProcessArgs, parseDemoPeers, peerText } from './coordinator-process.js';

const parent = mkdtempSync(path.join(tmpdir(), 'contrast-demo-coordinator-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

describe('the demo Coordinator process: --peers', () => {
  it('parses loopback peers (127.0.0.1, [::1])', () => {
    expect(parseDemoPeers('127.0.0.1:1314')).toEqual([{ host: '127.0.0.1', port: 1314 }]);
    expect(parseDemoPeers('127.0.0.1:1, [::1]:65535')).toEqual([
      { host: '127.0.0.1', port: 1 },
      { host: '::1', port: 65535 },
    ]);
    // The authority's parser skips empty entries (a trailing comma).
    expect(parseDemoPeers('127.0.0.1:1314,')).toEqual([{ host: '127.0.0.1', port: 1314 }]);
  });

  it('writes a peer back as it is written in --peers (IPv6 in brackets)', () => {
    expect(peerText({ host: '127.0.0.1', port: 1314 })).toBe('127.0.0.1:1314');
    expect(peerText({ host: '::1', port: 7 })).toBe('[::1]:7');
    for (const text of ['127.0.0.1:9', '[::1]:65535']) expect(peerText(parseDemoPeers(text)[0]!)).toBe(text);
  });

  it('refuses what is not a loopback host:port, naming the entry', () => {
    const cases: [string, RegExp][] = [
      // Well-formed, but not loopback: the demo's own rule on top of the authority's parser.
      ['10.0.0.2:1314', /^--peers\[0\]: "10.0.0.2:1314" is not a loopback address/],
      ['127.0.0.1:1314,example.com:1314', /^--peers\[1\]: "example.com:1314" is not a loopback/],
      ['127.0.0.1:1314,,[fd00::2]:1314', /^--peers\[2\]: "\[fd00::2\]:1314" is not a loopback/],
      ['localhost:1314', /^--peers\[0\]: "localhost:1314" is not a loopback/],
      // Malformed: the authority's parser, its entry named as a flag.
      ['127.0.0.1:0', /^--peers\[0\]: "127.0.0.1:0" is not host:port/],
      ['127.0.0.1:65536', /^--peers\[0\]: .* is not host:port/],
      ['127.0.0.1', /^--peers\[0\]: .* is not host:port/],
      ['::1:1314', /^--peers\[0\]: .* is not host:port/],
      ['127.0.0.1:1,[1:2:3]:2', /^--peers\[1\]: "1:2:3" is not an IPv6 address/],
      ['', /give host:port entries/],
      [' , ', /give host:port entries/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseDemoPeers(text), text).toThrow(
        expect.objectContaining({ message: expect.stringMatching(message) }),
      );
    }
  });

  it('passes the peers to the process as one hidden flag, and none when there are none', () => {
    const base = { storeDir: 's', simulatorDir: 'sim', policyHash: 'ab'.repeat(32) };
    expect(coordinatorProcessArgs(base)).not.toContain('--peers');
    expect(coordinatorProcessArgs({ ...base, peers: [] })).not.toContain('--peers');
    const args = coordinatorProcessArgs({ ...base, peers: ['127.0.0.1:1', '127.0.0.1:2'] });
    expect(args.slice(args.indexOf('--peers'))).toEqual(['--peers', '127.0.0.1:1,127.0.0.1:2']);
  });

  it('refuses a bad peer list with exit 2 before it opens the store', async () => {
    const store = path.join(parent, 'store');
    const c = captureIo(parent);
    const code = await runCli(
      [
        'demo',
        ...coordinatorProcessArgs({
          storeDir: store,
          simulatorDir: path.join(parent, 'sim'),
          policyHash: 'ab'.repeat(32),
        }),
        '--peers',
        '192.0.2.1:1314',
      ],
      c.io,
    );
    expect(code).toBe(2);
    expect(c.err()).toContain('--peers[0]');
    expect(readdirSync(parent)).not.toContain('store');
  });

  it('keeps the internal mode and its flags out of the help', async () => {
    const c = captureIo(parent);
    expect(await runCli(['demo', '--help'], c.io)).toBe(0);
    expect(c.out()).not.toMatch(/internal-coordinator|--peers/);
  });
});
