import { z } from 'zod';
import type { ComponentRegistry } from '../config/components.js';
import { TributaryError } from '../core/errors.js';

type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  pattern?: string;
};

/** Where each family goes in the project file, and the field that names a kind. */
const FAMILIES: { family: keyof ComponentRegistry; title: string; where: string; key: string }[] = [
  { family: 'sources', title: 'sources', where: 'sources.<name>', key: 'format' },
  { family: 'inputs', title: 'stream inputs', where: 'streams.<job>.input', key: 'kind' },
  { family: 'stores', title: 'stores', where: 'targets.<target>.stores.<name>, streams.<job>.sinks.<name>', key: 'kind' },
  { family: 'modelMaterializations', title: 'materialisations of models', where: 'models.<name>.materialize', key: 'kind' },
  { family: 'streamMaterializations', title: 'materialisations of stream tables', where: 'streams.<job>.sinks.<sink>.tables.<name>.materialize', key: 'kind' },
  { family: 'checks', title: 'checks', where: 'checks[]', key: 'test' },
  { family: 'tasks', title: 'task kinds', where: 'jobs.<job>.tasks.<name>', key: 'kind' },
];

/** A JSON schema's type in a few words: `integer ≥ 1`, `'a' | 'b'`, `string[]`, `{ table, column }`. */
function typeText(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const union = s.anyOf ?? s.oneOf;
  if (union) return union.map(typeText).join(' | ');
  if (s.type === 'array') {
    const item = s.items ? typeText(s.items) : 'any';
    return `${item.includes(' ') ? `(${item})` : item}[]`;
  }
  if (s.type === 'object') {
    if (s.properties) return `{ ${Object.keys(s.properties).join(', ')} }`;
    if (s.additionalProperties && typeof s.additionalProperties === 'object') return `{ [name]: ${typeText(s.additionalProperties)} }`;
    return 'object';
  }
  const bounds = [s.minimum !== undefined && s.minimum > -Number.MAX_SAFE_INTEGER ? `≥ ${s.minimum}` : '', s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? `≤ ${s.maximum}` : '']
    .filter(Boolean)
    .join(' ');
  return [Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any'), bounds].filter(Boolean).join(' ');
}

/** A component's options, read off its config schema. */
function options(config: z.ZodType, key: string): string[] {
  const schema = z.toJSONSchema(config, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .filter(([name]) => name !== key)
    .map(([name, field]) => {
      const extra = [field.default !== undefined ? `default ${JSON.stringify(field.default)}` : required.has(name) ? 'required' : 'optional', field.description].filter(Boolean).join('; ');
      return `    ${name}: ${typeText(field)}  (${extra})`;
    });
}

/**
 * `tributary components`: every component a project may name (Tributary's and the project's
 * own), by family, with where it goes in the project file and its options as its schema says.
 */
export function describeComponents(registry: ComponentRegistry, only?: string): string {
  const families = only ? FAMILIES.filter((f) => f.family === only || f.title.startsWith(only)) : FAMILIES;
  if (!families.length) {
    throw new TributaryError(`no family of components named '${only}'`, { hint: `families: ${FAMILIES.map((f) => f.family).join(', ')}` });
  }
  const out: string[] = [];
  for (const { family, title, where, key } of families) {
    out.push(`${title} (${where}; ${key} names the kind):`);
    for (const component of registry[family] as readonly { kind: string; description: string; config: z.ZodType }[]) {
      out.push(`  ${component.kind} — ${component.description}`);
      out.push(...options(component.config, key));
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}
