// Everything both files export is this subpath's API (see api-report.md).
export * from './certificate.js';
export * from './der.js';
