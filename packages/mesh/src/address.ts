import { ContrastError } from '@contrast-cc/core';

/** Parses a port (1-65535); errors name `field`. */
export function parsePort(text: string, field: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new ContrastError('invalid-argument', `"${text}" is not a port (1-65535)`, { field });
  }
  return Number(text);
}

/**
 * Parses `host:port` or `[v6]:port` (the port is required); errors are `invalid-argument`
 * ContrastErrors naming `field`.
 */
export function parseHostPort(text: string, field: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):([^:]*)$/.exec(text);
  if (!m) throw new ContrastError('invalid-argument', `"${text}" is not host:port`, { field });
  return { host: (m[1] ?? m[2])!, port: parsePort(m[3]!, field) };
}
