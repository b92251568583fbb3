import { z } from 'zod';
import { defineComponent } from '../../core/component.js';
import { JsonObjectWriter, fieldNames, located, type RecordReader } from './types.js';

const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;

const schema = z
  .object({
    kind: z.literal('delimited'),
    /** Taken literally, no quoting: `|`, `\t`, `::`. */
    delimiter: z.string().min(1),
    fields: z
      .array(z.string().min(1))
      .min(1)
      .refine((fields) => new Set(fields).size === fields.length, 'expected distinct field names'),
  })
  .strict();

/**
 * The record's fields, split at every `delimiter` and named in order, as a JSON object of
 * strings (`117|latte|1700000000` with fields customer_id, menu, unix_seconds), which the
 * stream's declared columns then type. A record with the wrong number of fields is refused.
 */
function readDelimited(delimiter: string, fields: readonly string[]): RecordReader {
  const separator = Buffer.from(delimiter);
  const names = fieldNames(fields);
  const namesBytes = names.reduce((sum, n) => sum + n.length + 2, 0);
  const shown = JSON.stringify(delimiter).slice(1, -1);
  const out = new JsonObjectWriter();
  // The loops compare each byte with the separator's first; only a longer separator needs the rest compared.
  const first = separator[0]!;
  const single = separator.length === 1;
  const restAt = (bytes: Uint8Array, i: number, end: number) => {
    if (i + separator.length > end) return false;
    for (let k = 1; k < separator.length; k++) if (bytes[i + k] !== separator[k]) return false;
    return true;
  };
  /** Where each field starts; one more than fields so a record with too many still counts them all. */
  let starts = new Int32Array(fields.length + 1);
  return (batch, partition, offset, timestamp, source, start, end, at) => {
    let count = 1;
    starts[0] = start;
    for (let i = start; i < end; i++) {
      if (source[i] === first && (single || restAt(source, i, end))) {
        i += separator.length - 1;
        if (count === starts.length) starts = grow(starts);
        starts[count++] = i + 1;
      }
    }
    if (count !== fields.length) {
      const reason = `expected ${fields.length} fields separated by '${shown}', got ${count}`;
      batch.reject(partition, offset, timestamp, located(reason, at), source, start, end);
      return;
    }
    out.begin(end - start, namesBytes);
    for (let f = 0; f < count; f++) {
      out.raw(names[f]!);
      out.byte(QUOTE);
      out.escaped(source, starts[f]!, f + 1 < count ? starts[f + 1]! - separator.length : end);
      out.byte(QUOTE);
    }
    out.byte(CLOSE_BRACE);
    batch.add(partition, offset, timestamp, out.buffer, 0, out.at);
  };
}

function grow(array: Int32Array): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

export const delimitedFormat = defineComponent({
  kind: 'delimited',
  description: 'fields split at a literal delimiter (no quoting) and named in order, e.g. `117|latte|1700000000`',
  config: schema,
  create: (config: z.output<typeof schema>): RecordReader => readDelimited(config.delimiter, config.fields),
});
