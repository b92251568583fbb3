import { z } from 'zod';
import { componentFor } from '../../core/component.js';
import { combinedLogFormat } from './combined-log.js';
import { delimitedFormat } from './delimited.js';
import { jsonFormat } from './json.js';
import type { RecordReader } from './types.js';

export type { LineLocation, RecordReader } from './types.js';

/**
 * Every record format, in one place: how the bytes of a record (a log or broker message, a line
 * of a spool file) become an event. Each is one file `{ kind, config, create }`; every stream
 * input takes `format` in its config and reads its records through the component it names. A new
 * format is a new file and a line here. (Inputs import this list, so it lives apart from
 * connectors/registry.ts, which imports the inputs.)
 */
export const formats = [jsonFormat, delimitedFormat, combinedLogFormat] as const;

const byKind = z.discriminatedUnion('kind', [jsonFormat.config, delimitedFormat.config, combinedLogFormat.config]);

/**
 * An input's `format`: `{ kind, ...options }`, or a kind alone when it needs no options
 * (`'combined-log'`). The spool input's earlier spellings still read: `'jsonl'` is `json`,
 * `{ delimiter, fields }` is `delimited`. Default: json.
 */
export const formatSchema = z
  .union([
    byKind,
    z
      .string()
      .transform((kind) => ({ kind: kind === 'jsonl' ? 'json' : kind }))
      .pipe(byKind),
    delimitedFormat.config.omit({ kind: true }).transform((options) => ({ kind: 'delimited' as const, ...options })),
  ])
  .default({ kind: 'json' });

export type FormatConfig = z.output<typeof formatSchema>;

// The one dispatch by kind: the config was validated against these same components.
export function openFormat(config: FormatConfig): RecordReader {
  return (componentFor(formats, config.kind).create as (c: FormatConfig) => RecordReader)(config);
}
