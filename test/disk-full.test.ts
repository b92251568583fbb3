import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createServer } from '../src/server/app.js';
import { openLog, startStreams } from '../src/stream/runtime.js';
import { stamp } from '../examples/ecommerce-clickstream/replayers/sample.js';
import { CLICKSTREAM, openProject, tempDir } from './helpers.js';
import { requireService } from './services.js';
import { sample } from './stream-helpers.js';

/**
 * A live job whose data folder's disk fills up while events arrive: the collector refuses what it
 * cannot store with a retriable answer, the job waits for space instead of failing, and once the
 * disk grows every acknowledged event is committed once.
 */
describe('a full disk under a live stream', () => {
  it('the collector answers 507 and stores none of the refused request; the job waits, then commits every acknowledged event once when space is freed', async () => {
    // A disk of 24 MB: a tmpfs, which only root may mount (CI runs as root); grown later with a remount.
    const disk = tempDir();
    const mounted = await requireService('a 24 MB tmpfs for a full disk (mount -t tmpfs needs root)', async () => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', disk], { stdio: 'pipe' }));
    if (!mounted) return;
    const ws = await openProject(CLICKSTREAM, { dataDir: disk });
    const streams = await startStreams(ws, openLog(ws));
    const app = await createServer({ ws, streams });
    try {
      const base = await app.listen({ host: '127.0.0.1', port: 0 });
      const job = streams.jobs[0]!;
      let sent = 0;
      const request = () => Array.from({ length: 500 }, () => stamp(sample[sent++ % sample.length]!)).join('\n');
      const post = (body: string) => fetch(`${base}/v1/topics/clickstream`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      const acknowledged = new Set<string>();
      const idsOf = (body: string) => body.split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
      let refused: string | undefined;
      for (let i = 0; !refused; i++) {
        expect(i, 'the disk never filled').toBeLessThan(2_000);
        const body = request();
        const answer = await post(body);
        if (answer.status === 200) idsOf(body).forEach((id) => acknowledged.add(id));
        else {
          expect(answer.status).toBe(507);
          expect(await answer.json()).toEqual({
            error: "the server's disk is full: none of the request's lines were stored",
            hint: 'send the request again once the server has space (its operator frees the disk that holds its data folder)',
          });
          refused = body;
        }
      }
      // The log holds exactly what was acknowledged: the refused request left nothing in any partition.
      const stored = () => streams.log.topic('clickstream').endOffsets().reduce((a, b) => a + b, 0);
      expect(stored()).toBe(acknowledged.size);
      // A request with a malformed line: its dead letter cannot be recorded either, and its good lines are not stored.
      const mixed = `${request()}\n{"id": "cut short`;
      expect((await post(mixed)).status).toBe(507);
      expect(stored()).toBe(acknowledged.size);
      // The job cannot commit on the full disk either: it says so and waits, still running.
      await expect.poll(() => job.snapshot().error ?? '', { timeout: 60_000 }).toMatch(/the disk is full: the job tries again every \d+ s until it has space/);
      expect(job.snapshot().state).toBe('running');
      execFileSync('mount', ['-o', 'remount,size=400m', disk]);
      // The sender retries the refused request, and sends more.
      expect((await post(refused)).status).toBe(200);
      idsOf(refused).forEach((id) => acknowledged.add(id));
      const more = request();
      expect((await post(more)).status).toBe(200);
      idsOf(more).forEach((id) => acknowledged.add(id));
      const retried = await post(mixed);
      expect(retried.status).toBe(200);
      expect(await retried.json()).toMatchObject({ accepted: 500, rejected: [{ index: 501 }] });
      idsOf(mixed.split('\n').slice(0, 500).join('\n')).forEach((id) => acknowledged.add(id));
      // Its dead letter once, or twice when the refused attempt had recorded it before its append failed.
      const [letters] = await ws.engine.queryJson<{ n: string; raws: string; raw: string }>(
        `SELECT count(*) AS n, count(DISTINCT raw) AS raws, any_value(raw) AS raw FROM tributary.dead_letters WHERE origin = 'collector:clickstream'`,
      );
      expect(letters).toMatchObject({ raws: '1', raw: '{"id": "cut short' });
      expect(['1', '2']).toContain(letters!.n);
      await expect.poll(() => job.snapshot().events, { timeout: 120_000 }).toBe(acknowledged.size);
      expect(job.snapshot()).toMatchObject({ state: 'running', error: null, lag: 0 });
      const [raw] = await ws.engine.queryJson<{ n: string; ids: string }>('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events_raw');
      expect(raw).toEqual({ n: String(acknowledged.size), ids: String(acknowledged.size) });
      const [serving] = await ws.engine.queryJson<{ n: string }>('SELECT count(*) AS n FROM live_operations');
      expect(serving).toEqual({ n: String(acknowledged.size) });
    } finally {
      await app.close();
      await streams.stop();
      streams.log.close();
      await ws.close();
      execFileSync('umount', [disk]);
    }
  });
});
