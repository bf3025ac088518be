export { RegoError, type RegoErrorKind, type SourceLocation } from './errors.js';
export { type FailureRecord, type QueryResult, RegoEngine } from './eval.js';
export { fromJson, isObject, RegoSet, toJson, type Value } from './value.js';
