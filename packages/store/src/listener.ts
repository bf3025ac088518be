import type { Logger } from '@contrast-cc/core';
import type { LatestListener, VersionedLatest } from './types.js';

/**
 * Calls a watch listener; a throw is logged (error) instead of escaping into the backend's poll
 * or stream callback, where it would be an unhandled rejection that ends the process.
 */
export function callListener(onChange: LatestListener, latest: VersionedLatest | null, logger: Logger): void {
  try {
    onChange(latest);
  } catch (error) {
    logger.error('a latest-pointer listener threw; the watch goes on', {
      error: (error as Error)?.message ?? String(error),
    });
  }
}
