export { parseConfig, type ServiceMeshEnv, ServiceMeshEnvSchema } from './config.js';
