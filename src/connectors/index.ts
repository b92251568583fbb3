export { sources, inputs, stores, sourceSchema, inputSchema, storeSchema, sinkSchema, openSource, openInput, openStore, type SourceConfig, type InputConfig, type StoreConfig } from './registry.js';
export type { SourceScan, SourceContext, RejectedRow, Repair } from './sources/types.js';
export type { StreamInput, RecordSink, InputContext } from './inputs/types.js';
export type { Store, StoreContext, TableShape, WriteMode, ReplaceScope, Staged, StageRequest, CommitUnit, MergeFunction } from './stores/types.js';
export { mergeFunction, scopeCondition } from './stores/types.js';
