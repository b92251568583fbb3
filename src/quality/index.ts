export { runChecks, checkName, type CheckResult } from './checks.js';
export { ruleChecks, verdictExpression, reasonExpression, VERDICT, PARSE_ERROR, type RuleCheck } from './rules.js';
export { typeJson, typedColumns, exactValue, fieldTextColumns, type JsonOptions } from './json.js';
