import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openProject, runCli, startCli, tempDir, type Workspace } from 'tributary/testing';
import { expect } from 'vitest';
import {
  customersCln,
  loyaltyForInterval,
  parseOrderLines,
  readCustomers,
  transactionsCln,
  utcDay,
  type CustomerRow,
  type LoyaltyRow,
  type RejectedLine,
  type SourceOrder,
  type TransactionRow,
} from './reference.js';

/**
 * What the customer-loyalty tests need around the example: its folders, the order files on disk
 * recounted independently, and `tributary up` and the CLI as a user runs them (child processes),
 * with the spool in a folder of the test's own (LOYALTY_SPOOL).
 */

export const LOYALTY = fileURLToPath(new URL('..', import.meta.url));
export const CUSTOMERS_CSV = path.join(LOYALTY, 'data', 'customer.csv');
/** The models the orders stream joins: built before it starts, as the README says. */
export const STATIC_MODELS = ['customers_cln', 'menu', 'loyalty_rules', 'loyalty_offers'];

export const customers: CustomerRow[] = customersCln(readCustomers(CUSTOMERS_CSV));

/** A run's folders: the data folder (lake and state) and the spool the config reads through LOYALTY_SPOOL. */
export interface Workdir {
  dataDir: string;
  spool: string;
  incoming: string;
  done: string;
  env: Record<string, string>;
}

export function workdir(prefix: string): Workdir {
  const root = tempDir(prefix);
  const spool = path.join(root, 'spool');
  const incoming = path.join(spool, 'incoming');
  mkdirSync(incoming, { recursive: true });
  return { dataDir: path.join(root, 'data'), spool, incoming, done: path.join(spool, 'done'), env: { LOYALTY_SPOOL: spool } };
}

/** The CLI on the example with the workdir's data folder and spool; fails the test with its stderr. */
export async function tributary(work: Workdir, args: string[]): Promise<string> {
  const result = await runCli([...args, '--project', LOYALTY, '--data-dir', work.dataDir], { env: work.env });
  if (result.code !== 0) throw new Error(`tributary ${args.join(' ')} exited with ${result.code ?? result.signal}:\n${result.stderr}`);
  return result.stdout;
}

/** Moves a staged file into the spool in one rename, as the tills' writer does. */
export function drop(file: string, work: Workdir): void {
  renameSync(file, path.join(work.incoming, path.basename(file)));
}

/** The order files of a folder, by name. */
export function orderFiles(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder).filter((n) => n.startsWith('orders-') && !n.startsWith('.')).sort().map((n) => path.join(folder, n)) : [];
}

export interface Recount {
  orders: SourceOrder[];
  rejected: (RejectedLine & { file: string })[];
  transactions: TransactionRow[];
}

/** Every order line of the files, parsed and priced by the reference (not by Tributary). */
export function recount(files: readonly string[]): Recount {
  const orders: SourceOrder[] = [];
  const rejected: (RejectedLine & { file: string })[] = [];
  for (const file of files) {
    const parsed = parseOrderLines(readFileSync(file, 'utf8'));
    orders.push(...parsed.orders);
    rejected.push(...parsed.rejected.map((r) => ({ ...r, file: path.basename(file) })));
  }
  return { orders, rejected, transactions: transactionsCln(orders, customers) };
}

/** A transaction as one comparable line (the reference's shape; DuckDB's JSON gives ids as text). */
export function transactionLine(row: { cust_id: bigint | string; odr_menu: string; odr_prc: number | string | null; odr_pts: number | string | null; odr_tms: string; cust_name: string | null }): string {
  const n = (v: number | string | null) => (v === null ? 'NULL' : String(Number(v)));
  return [String(row.cust_id), row.odr_menu, n(row.odr_prc), n(row.odr_pts), row.odr_tms, row.cust_name ?? 'NULL'].join('|');
}

export interface Up {
  url: string;
  child: ChildProcess;
  stderr(): string;
  /** SIGKILL: the process dies wherever it is. */
  kill(): Promise<void>;
  /** SIGTERM: the server closes its stack and exits. */
  stop(): Promise<void>;
}

/** The servers `up` started that have not exited: a test that fails before it stops one leaves it to `killServers`. */
const servers = new Set<ChildProcess>();

/** Kills what a failed test left running (an afterEach), so that it takes no CPU from the tests after it. */
export async function killServers(): Promise<void> {
  await Promise.all(
    [...servers].map(async (child) => {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }),
  );
}

/** `tributary up` on the example in its own process, on a free port; resolves once it says it is up. */
export async function up(work: Workdir): Promise<Up> {
  const server = startCli(['up', '--project', LOYALTY, '--data-dir', work.dataDir, '--port', '0'], { env: { ...work.env, TRIBUTARY_DEBUG: '1' } });
  servers.add(server.child);
  void server.exited.then(() => servers.delete(server.child));
  const [, url] = await server.waitFor(/Tributary is up at (http:\/\/\S+)/);
  return {
    url: url!,
    child: server.child,
    stderr: server.output,
    kill: async () => void (await server.kill('SIGKILL')),
    stop: async () => void (await server.kill('SIGTERM')),
  };
}

/** A read-only query through the running server's SQL API (POST /api/sql), as the lab sends it. */
export async function sql<T = Record<string, unknown>>(server: Up, query: string): Promise<T[]> {
  const response = await fetch(`${server.url}/api/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: query, limit: 10_000 }) });
  const body = (await response.json()) as { rows?: T[]; error?: string; truncated?: boolean };
  if (!response.ok || !body.rows) throw new Error(`POST /api/sql ${query}: ${response.status} ${body.error ?? ''}`);
  if (body.truncated) throw new Error(`POST /api/sql ${query}: the answer was cut; ask for fewer rows`);
  return body.rows;
}

/** Waits until `probe` returns true (an error counts as not yet); gives up, saying what it waited for, after `seconds`: a guard against hangs only. */
export async function waitFor(what: () => string, probe: () => Promise<boolean>, seconds = 90): Promise<void> {
  await expect
    .poll(probe, { timeout: seconds * 1000, interval: 100 })
    .toBe(true)
    .catch((error: unknown) => {
      throw new Error(`gave up waiting for ${what()}`, { cause: error });
    });
}

/** mulberry32: a small seeded PRNG, so kill moments and drop order repeat run to run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Opens the example in-process on a workdir (the config reads the spool folder from LOYALTY_SPOOL). */
export async function openLoyalty(work: Workdir): Promise<Workspace> {
  process.env.LOYALTY_SPOOL = work.spool;
  return openProject(LOYALTY, { dataDir: work.dataDir });
}

/** Reference rows in the shape DuckDB's JSON helpers give (BIGINT ids as text). */
export const asJson = <T extends { cust_id: bigint }>(rows: readonly T[]) => rows.map((r) => ({ ...r, cust_id: String(r.cust_id) }));
export const byCustomer = <T extends { cust_id: string | bigint }>(rows: readonly T[]) => [...rows].sort((a, b) => Number(BigInt(a.cust_id) - BigInt(b.cust_id)));

/** loyalty for every day the transactions cover, from the reference. */
export function loyaltyByDay(transactions: readonly TransactionRow[]): LoyaltyRow[] {
  const days = [...new Set(transactions.map((t) => t.odr_tms.slice(0, 10)))].sort();
  return days.flatMap((day) => loyaltyForInterval(transactions, customers, utcDay(day)));
}

export const sortLoyalty = (rows: readonly LoyaltyRow[]) => asJson([...rows].sort((a, b) => (a.data_dt === b.data_dt ? Number(a.cust_id - b.cust_id) : a.data_dt < b.data_dt ? -1 : 1)));

/** Reads of the example's tables in the reference's shape: numbers as numbers, times as text. */
export const READ = {
  transactions: `SELECT cust_id, odr_menu, odr_prc, odr_pts, strftime(odr_tms, '%Y-%m-%d %H:%M:%S') AS odr_tms, cust_name FROM transactions_cln`,
  points: `SELECT cust_id, points::INTEGER AS points, spend::INTEGER AS spend, orders::INTEGER AS orders, strftime(last_order_at, '%Y-%m-%d %H:%M:%S') AS last_order_at
           FROM customer_points ORDER BY cust_id`,
  loyalty: (where = 'true') =>
    `SELECT cust_id, cust_name, cust_member_card_no, spnd_amt::INTEGER AS spnd_amt, points::INTEGER AS points, strftime(data_dt, '%Y-%m-%d') AS data_dt
     FROM loyalty WHERE ${where} ORDER BY data_dt, cust_id`,
};

/** The line a dead letter stands for: the raw line, or for a line refused by its type the fields it carried. */
export function deadLetterLine(raw: string): string {
  if (!raw.startsWith('{')) return raw;
  const fields = JSON.parse(raw) as { customer_id: string; menu: string; unix_seconds: string };
  return `${fields.customer_id}|${fields.menu}|${fields.unix_seconds}`;
}

/** The dead letters of the orders stream, as the lines they stand for. */
export async function deadLetterLines(ws: Workspace): Promise<string[]> {
  const dead = await ws.engine.queryJson<{ raw: string }>(`SELECT raw FROM tributary.dead_letters WHERE origin = 'job:orders'`);
  return dead.map((d) => deadLetterLine(d.raw)).sort();
}

export const unix = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;
