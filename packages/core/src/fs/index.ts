export { type FileWrite, type WriteFilesOptions, writeFilesAtomic } from './write.js';
