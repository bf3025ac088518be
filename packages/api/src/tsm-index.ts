export {
  type ConfigfsOps,
  ConfigfsTsmIssuer,
  type ConfigfsTsmOptions,
  TSM_REPORT_ROOT,
} from './tsm.js';
