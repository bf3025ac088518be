export { type InitializerConfig, InitializerConfigSchema, parseConfig } from './config.js';
export { OUTPUT_FILES, writeFileAtomic } from './files.js';
export { type InitializerOptions, type InitializerResult, runInitializer } from './initializer.js';
