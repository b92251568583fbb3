import type { Engine, Transaction } from '../../engine/index.js';

/** Offsets and watermarks of sinks that live in the embedded warehouse (lake, duckdb, dead letters). */
export const STATE_SCHEMA = `
CREATE SCHEMA IF NOT EXISTS tributary;
CREATE TABLE IF NOT EXISTS tributary.stream_offsets (
  job VARCHAR NOT NULL, sink VARCHAR NOT NULL, partition INTEGER NOT NULL, next_offset BIGINT NOT NULL,
  PRIMARY KEY (job, sink, partition));
CREATE TABLE IF NOT EXISTS tributary.stream_state (
  job VARCHAR NOT NULL, sink VARCHAR NOT NULL, key VARCHAR NOT NULL, value DOUBLE,
  PRIMARY KEY (job, sink, key));
CREATE TABLE IF NOT EXISTS tributary.dead_letters (
  job VARCHAR NOT NULL, partition INTEGER NOT NULL, "offset" BIGINT NOT NULL, reason VARCHAR NOT NULL, raw VARCHAR,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now());
`;

export async function readOffsets(engine: Engine, job: string, sink: string): Promise<Map<number, number>> {
  const rows = await engine.query<{ partition: number; next_offset: bigint }>(
    `SELECT partition, next_offset FROM tributary.stream_offsets WHERE job = $1 AND sink = $2`,
    [job, sink],
  );
  return new Map(rows.map((r) => [r.partition, Number(r.next_offset)]));
}

export async function writeOffsets(tx: Transaction, job: string, sink: string, next: ReadonlyMap<number, number>): Promise<void> {
  for (const [partition, offset] of next) {
    await tx.run(
      `INSERT INTO tributary.stream_offsets VALUES ($1, $2, $3, $4) ON CONFLICT (job, sink, partition) DO UPDATE SET next_offset = excluded.next_offset`,
      [job, sink, partition, offset],
    );
  }
}

export async function readState(engine: Engine, job: string, sink: string, key: string): Promise<number | undefined> {
  const rows = await engine.query<{ value: number }>(`SELECT value FROM tributary.stream_state WHERE job = $1 AND sink = $2 AND key = $3`, [job, sink, key]);
  return rows[0]?.value ?? undefined;
}

export async function writeState(tx: Transaction, job: string, sink: string, key: string, value: number): Promise<void> {
  await tx.run(
    `INSERT INTO tributary.stream_state VALUES ($1, $2, $3, $4) ON CONFLICT (job, sink, key) DO UPDATE SET value = excluded.value`,
    [job, sink, key, value],
  );
}

/** The offsets a sink will have consumed once this batch commits. */
export function advance(next: ReadonlyMap<number, number>, ranges: ReadonlyMap<number, { first: number; last: number }>): Map<number, number> {
  const out = new Map(next);
  for (const [p, r] of ranges) out.set(p, Math.max(out.get(p) ?? 0, r.last + 1));
  return out;
}
