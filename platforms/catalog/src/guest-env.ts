// What the programs that run inside a confidential guest (the Coordinator, the initializer) read
// the same way from their environment: where their evidence comes from, and the rule that an
// insecure issuer needs the insecure opt-in the catalog's simulated platforms also need.
import { z } from 'zod';

/** An environment flag: `1`/`true` set, `0`/`false`/empty/unset not. */
const flag = z
  .enum(['1', '0', 'true', 'false', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true');

/**
 * The variables that choose a guest program's evidence issuer; spread into its environment schema.
 * - `CONTRAST_ISSUER`: `tsm` (the guest's configfs-tsm, the default) or, only with
 *   `CONTRAST_ALLOW_INSECURE_RUNTIMES`, `fake` (the core fake issuer) or `simulated-snp` /
 *   `simulated-tdx` (the simulator platform's issuer: the real report/quote format, its key chain
 *   registered in `$CONTRAST_SIMULATOR_DIR`).
 * - `CONTRAST_TSM_PATH`: the configfs-tsm root (default `/sys/kernel/config/tsm/report`).
 * - `CONTRAST_FAKE_POLICY_HASH` (64 hex) / `CONTRAST_FAKE_MEASUREMENT` (96 hex): what the insecure
 *   issuers bind (the policy hash as HOST_DATA / MRCONFIGID for the simulated ones).
 * @public
 */
export const issuerEnvShape = {
  CONTRAST_ALLOW_INSECURE_RUNTIMES: flag,
  CONTRAST_ISSUER: z.enum(['tsm', 'fake', 'simulated-snp', 'simulated-tdx']).default('tsm'),
  CONTRAST_TSM_PATH: z.string().optional(),
  CONTRAST_FAKE_POLICY_HASH: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits')
    .optional(),
  CONTRAST_FAKE_MEASUREMENT: z
    .string()
    .regex(/^[0-9a-f]{96}$/, 'must be 96 lowercase hex digits')
    .optional(),
};

/** What {@link issuerEnvShape} parses to. @public */
export type IssuerEnv = z.output<z.ZodObject<typeof issuerEnvShape>>;

/**
 * Parses a guest program's environment with `schema` (which includes {@link issuerEnvShape}).
 * Throws an Error naming the first bad variable (`VAR: message`), and refuses an insecure issuer
 * without `CONTRAST_ALLOW_INSECURE_RUNTIMES` (it proves nothing). Values are never echoed.
 * @public
 */
export function parseGuestEnv<S extends z.ZodType<IssuerEnv>>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join('.')}: ${issue.message}`);
  }
  const c = parsed.data;
  if (c.CONTRAST_ISSUER !== 'tsm' && !c.CONTRAST_ALLOW_INSECURE_RUNTIMES) {
    throw new Error(
      `CONTRAST_ISSUER: "${c.CONTRAST_ISSUER}" needs CONTRAST_ALLOW_INSECURE_RUNTIMES=1 (it proves nothing)`,
    );
  }
  return c;
}
