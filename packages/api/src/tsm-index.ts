export {
  type ConfigfsOps,
  ConfigfsTsmIssuer,
  type ConfigfsTsmOptions,
  parseSnpCertTable,
  TSM_PROVIDER_KINDS,
  TSM_REPORT_ROOT,
} from './tsm.js';
