export {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  SIMULATED_MEASUREMENTS,
  type SimulatedPlatformOptions,
  simulatedRuntimeHash,
  simulatedSnp,
  simulatedSnpReferenceValues,
  simulatedTdx,
  simulatedTdxReferenceValues,
} from './platforms.js';
export { createSimulatorTrust, type SimulatorTrust, type StoredSnpRoot } from './trust.js';
