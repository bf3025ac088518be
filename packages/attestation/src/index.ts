// Collateral sources shared by every app (see README.md, "Collateral configuration").
export {
  AMD_KDS_MIN_INTERVAL_MS,
  type CollateralConfig,
  type CollateralSources,
  createCollateralSources,
  DEFAULT_COLLATERAL_URLS,
  firstSnpCollateral,
  firstTdxCollateral,
  pcsCollateralSource,
  SNP_COLLATERAL_FILES,
  type SnpCollateral,
  SnpCollateralDirectory,
  type SnpCollateralSource,
  TDX_COLLATERAL_FILES,
  type TdxCollateralSource,
  tdxCollateralDirectory,
} from './collateral.js';
