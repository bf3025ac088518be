export { type Exec, type RunOptions, runNodeInstaller, USAGE } from './run.js';
