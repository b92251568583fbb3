export { Lake, type StagedWrite, type WriteOptions } from './lake.js';
