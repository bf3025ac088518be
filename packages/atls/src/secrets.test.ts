import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { createMemoryLogger, FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';
import { describe, expect, it } from 'vitest';
import { connectAttested } from './client.js';
import { createAttestedServer } from './server.js';

describe('no secret material in atls logs or errors', () => {
  it('server and client flows, including failures, never show the TLS private key', async () => {
    const mem = createMemoryLogger();
    const engine = SeedEngine.generate();
    const ca = await createCaHierarchy(engine, { logger: mem.logger });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const cert = (await ca.issueMeshCertificate({ publicKey, sans: ['coordinator'] })).pem;
    const server = createAttestedServer({
      issuer: new FakeIssuer(),
      key: privateKey,
      cert,
      logger: mem.logger,
      state: () => ({ digest: new Uint8Array(32).fill(3) }),
    });
    const failing = createAttestedServer({
      issuer: { kind: 'fake', issue: () => Promise.reject(new Error('no TEE here')) },
      key: privateKey,
      cert,
      logger: mem.logger,
    });
    const errors: unknown[] = [];
    try {
      const { port } = await server.listen();
      const { port: badPort } = await failing.listen();
      const conn = await connectAttested({
        host: '127.0.0.1',
        port,
        verifiers: new FakeVerifier(),
        allowInsecure: true,
        logger: mem.logger,
      });
      await conn.fetch('/x');
      for (const attempt of [
        () => connectAttested({ host: '127.0.0.1', port, verifiers: new FakeVerifier(), logger: mem.logger }),
        () =>
          connectAttested({
            host: '127.0.0.1',
            port,
            verifiers: new FakeVerifier({ measurement: '11'.repeat(48) }),
            allowInsecure: true,
            logger: mem.logger,
          }),
        () =>
          connectAttested({
            host: '127.0.0.1',
            port: badPort,
            verifiers: new FakeVerifier(),
            logger: mem.logger,
          }),
        async () => createAttestedServer({ issuer: new FakeIssuer(), key: 'garbage', cert }),
      ]) {
        await attempt().catch((e: unknown) => errors.push(e));
      }
    } finally {
      await server.close();
      await failing.close();
    }
    expect(errors).toHaveLength(4);
    const text = [
      mem.text(),
      ...errors.map((e) =>
        [(e as Error).message, String((e as Error).cause), inspect(e, { depth: 6 })].join('\n'),
      ),
    ].join('\n');
    expect(mem.records.some((r) => r.message === 'attested peer')).toBe(true);
    expect(mem.records.some((r) => r.message === 'issuing evidence failed')).toBe(true);
    const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const meshD = Buffer.from(ca.meshCaKey().export({ format: 'jwk' }).d!, 'base64url');
    for (const secret of [d, meshD, Buffer.from(engine.seed())]) {
      for (const form of [secret.toString('hex'), secret.toString('base64'), secret.toString('base64url')]) {
        expect(text).not.toContain(form);
      }
    }
    const pem = (privateKey.export({ type: 'pkcs8', format: 'pem' }) as string).split('\n')[1]!;
    expect(text).not.toContain(pem);
  });
});
