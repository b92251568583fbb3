import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/index.js';

/** A promise and the function that settles it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('stream micro-batches first', () => {
  it('a background connection starts no statement while a micro-batch works; its transactions and other connections go on', async () => {
    const engine = await Engine.open();
    const background = await engine.fork({ background: true });
    const committer = await engine.fork({ background: true });
    const other = await engine.fork();
    try {
      const order: string[] = [];
      const release = deferred();
      const working = deferred();
      const batch = engine.streamBatch(async () => {
        await engine.run('CREATE TEMP TABLE micro AS SELECT range AS n FROM range(1000)');
        working.resolve();
        await release.promise;
        order.push('micro-batch done');
      });
      await working.promise;
      const waiting = background.query('SELECT count(*) AS n FROM range(10)').then(() => order.push('background statement'));
      // A commit on a background connection never waits: it may hold the catalog's lock the stream's commit needs.
      await committer.transaction(async (tx) => {
        await tx.run('CREATE TABLE committed AS SELECT 1 AS x');
      });
      order.push('background transaction');
      // Another connection's statements go on: by the time these answered, an ungated statement would have too.
      for (let i = 0; i < 20; i++) await other.query('SELECT 1');
      order.push('other connection');
      release.resolve();
      await batch;
      await waiting;
      expect(order).toEqual(['background transaction', 'other connection', 'micro-batch done', 'background statement']);
      // Without a micro-batch, background statements run at once.
      expect(await background.queryJson('SELECT 42 AS answer')).toEqual([{ answer: 42 }]);
    } finally {
      background.close();
      committer.close();
      other.close();
      await engine.closeAll();
    }
  });

  it('a micro-batch that fails still lets background work go on', async () => {
    const engine = await Engine.open();
    const background = await engine.fork({ background: true });
    try {
      await expect(engine.streamBatch(() => engine.run('SELECT * FROM no_such_table'))).rejects.toThrow(/no_such_table/);
      expect(await background.queryJson('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      background.close();
      await engine.closeAll();
    }
  });
});
