export { Lake, PartitionKeyError, partitionKeyProblem, type StagedWrite, type StageOptions, type Replace, type LakeWrite, type LakeFormat } from './lake.js';
export type { LakeStorage } from './storage.js';
export { LocalLakeStorage } from './local-storage.js';
export { S3LakeStorage, parseS3Url, s3Settings, type S3Settings } from './s3-storage.js';
export { exportTable, type ExportOptions } from './export.js';
