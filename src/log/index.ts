export { Log, Topic, type TopicOptions, type AppendResult, type HotKeyEpoch } from './log.js';
export { hashPartitioner, hotKeyPartitioner, hashKey, type Partitioner } from './partitioner.js';
export type { LogRecord, AppendInput, RecordView } from './segment.js';
export type { RetentionPolicy } from './partition.js';
