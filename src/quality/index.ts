export { runChecks, type CheckResult, type CheckDeclaration } from './checks/run.js';
export { checks } from './checks/registry.js';
export { defineCheck, checkLabel, type Check, type CheckComponent } from './checks/types.js';
export { ruleChecks, ruleTypeProblem, ruleWithoutColumn, verdictExpression, reasonExpression, VERDICT, PARSE_ERROR, SKIPPED, type RuleCheck } from './rules.js';
export { typeJson, typedColumns, exactValue, fieldTextColumns, type JsonOptions } from './json.js';
