/**
 * `{{ name }}` templates over a run's facts. Text mode inserts the value as is (file globs, messages,
 * shell commands); SQL mode inserts SQL literals, as Tributary's model templating does: `{{ ds }}` →
 * DATE '2024-01-05', `{{ data_interval_start }}` → TIMESTAMP '2024-01-05 00:00:00' (UTC), text → '…'.
 */
import { z } from 'zod';

export const TEMPLATE_VARIABLES = [
  'job',
  'task',
  'run_id',
  'run_kind',
  'ds',
  'ds_nodash',
  'yyyy',
  'mm',
  'dd',
  'data_interval_start',
  'data_interval_end',
  'state',
  'error',
  'attempt',
  'duration',
] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];
export type TemplateVars = Record<TemplateVariable, string>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function isTemplateVariable(name: string): name is TemplateVariable {
  return (TEMPLATE_VARIABLES as readonly string[]).includes(name);
}

export function unknownTemplateVariables(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1]!).filter((name) => !isTemplateVariable(name));
}

/** A string that may hold placeholders; an unknown name is a config error, not a surprise at run time. */
export const templateSchema = z.string().superRefine((template, ctx) => {
  const unknown = unknownTemplateVariables(template);
  if (unknown.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown template variable${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `{{ ${name} }}`).join(', ')}; known: ${TEMPLATE_VARIABLES.join(', ')}`,
    });
  }
});

const sqlString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

function sqlLiteral(name: TemplateVariable, value: string): string {
  if (value === '') return 'NULL';
  switch (name) {
    case 'ds':
      return `DATE ${sqlString(value)}`;
    case 'data_interval_start':
    case 'data_interval_end':
      // ISO '2024-01-05T00:00:00.000Z' → '2024-01-05 00:00:00': a UTC TIMESTAMP literal.
      return `TIMESTAMP ${sqlString(value.replace('T', ' ').replace(/(\.000)?Z$/, ''))}`;
    case 'attempt':
      return value;
    default:
      return sqlString(value);
  }
}

export function renderTemplate(template: string, vars: TemplateVars, mode: 'text' | 'sql'): string {
  return template.replace(PLACEHOLDER, (placeholder, name: string) => {
    if (!isTemplateVariable(name)) return placeholder;
    return mode === 'sql' ? sqlLiteral(name, vars[name]) : vars[name];
  });
}

/** Renders every string inside a JSON value (Slack blocks). */
export function renderJsonTemplate(value: unknown, vars: TemplateVars): unknown {
  if (typeof value === 'string') return renderTemplate(value, vars, 'text');
  if (Array.isArray(value)) return value.map((item) => renderJsonTemplate(item, vars));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, renderJsonTemplate(inner, vars)]));
  }
  return value;
}
