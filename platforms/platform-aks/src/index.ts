export {
  AKS_BASE_MEMORY_MIB,
  AKS_NODE_SELECTOR,
  AKS_RUNTIME_CLASS,
  AKS_RUNTIME_HANDLER,
  type AksIssuerOptions,
  type AksPlatformOptions,
  aksClhSnp,
  aksReferenceValues,
  createAksIssuer,
  createAksPlatform,
} from './platform.js';
export {
  type AksCollateral,
  type AksVcekSource,
  type AksVcekSourceOptions,
  createAksVcekSource,
  THIM_BASE_URL,
  THIM_PATH,
} from './vcek-source.js';
