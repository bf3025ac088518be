// @peculiar/x509 for the tests, as an independent issuer and parser to check ours against:
// reflect-metadata first, then node's webcrypto.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
