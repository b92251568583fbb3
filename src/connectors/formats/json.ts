import { z } from 'zod';
import { defineComponent } from '../../core/component.js';
import { located, type RecordReader } from './types.js';

const SPACE = 0x20;
const TAB = 0x09;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

const schema = z.object({ kind: z.literal('json') }).strict();

/**
 * A broker's message is handed over as it is: the micro-batch reads it and names precisely what
 * is wrong with a bad one (not JSON, a field of the wrong type). A line of a text file must hold
 * one object: one that cannot (a CSV line dropped among JSON lines) is refused naming the file
 * and line, which says more than the JSON reader could.
 */
function readJson(): RecordReader {
  return (batch, partition, offset, timestamp, source, start, end, at) => {
    if (!at) {
      batch.add(partition, offset, timestamp, source, start, end);
      return;
    }
    let first = start;
    let last = end;
    while (first < last && (source[first] === SPACE || source[first] === TAB)) first++;
    while (last > first && (source[last - 1] === SPACE || source[last - 1] === TAB)) last--;
    if (source[first] === OPEN_BRACE && source[last - 1] === CLOSE_BRACE) batch.add(partition, offset, timestamp, source, first, last);
    else batch.reject(partition, offset, timestamp, located('expected one JSON object per line', at), source, start, end);
  };
}

export const jsonFormat = defineComponent({
  kind: 'json',
  description: 'one JSON object per record (the default); its fields are typed by the stream’s columns',
  config: schema,
  create: (_config: z.output<typeof schema>): RecordReader => readJson(),
});
