export { sourceConnectors } from './registry.js';
export type { SourceConnector, SourceScan, SourceContext, RejectedRow } from './types.js';
