export { type InitializerConfig, InitializerConfigSchema, parseConfig } from './config.js';
