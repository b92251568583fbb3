export { sources, inputs, stores, formats, openSource, openInput, inputIsLocal, openStore, type SourceConfig, type InputConfig, type StoreConfig } from './registry.js';
export type { SourceScan, SourceContext, SourceComponent, RejectedRow, RecordPlace, Repair, LineFingerprint } from './sources/types.js';
export type { StreamInput, RecordSink, InputContext, InputComponent } from './inputs/types.js';
export type { Store, StoreContext, StoreComponent, TableShape, WriteMode, ReplaceScope, Staged, StageRequest, CommitUnit, MergeFunction, DivertedNote } from './stores/types.js';
export { mergeFunction, scopeCondition } from './stores/types.js';
export { dropFromWarehouse } from './stores/duckdb.js';
// What a store's partitioned write refuses, for the runners that know where the keys are declared.
export { PartitionKeyError, partitionKeyProblem } from '../lake/index.js';
