export { engineVersion } from './version.js';
export { Engine, listParameter, type EngineOptions, type QueryProgress, type Row, type Transaction } from './engine.js';
export { PLAIN_IDENTIFIER, quoteIdent, quoteLiteral, quoteList, columnsStruct, csvReadsBySize, lineReadLimit, parseSqlTree, printSqlTree, type SqlNode } from './sql.js';
export { ReadOnlyPolicy, timeTravelName, type CheckedQuery } from './policy.js';
export { EXTENSIONS, EXTENSIONS_ENV, extensionDirectory, type ExtensionName } from './extensions.js';
