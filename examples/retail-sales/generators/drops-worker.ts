import { parentPort, workerData } from 'node:worker_threads';
import { writeDropDay, type WorkerJob, type WorkerReply, type WorkerRequest } from './drops.js';
import { buildWorld } from './world.js';

/** A drops worker: rebuilds the world from the job's options, then writes the days it is sent. */
const job = workerData as WorkerJob;
const port = parentPort;
if (!port) throw new Error('drops-worker runs as a worker thread');
const world = buildWorld(job.options.world);
port.on('message', (request: WorkerRequest) => {
  if ('stop' in request) {
    port.close();
    return;
  }
  const reply: WorkerReply = { day: request.day, reports: writeDropDay(world, job.options, job.plan, request.day, job.out) };
  port.postMessage(reply);
});
port.postMessage({ ready: true } satisfies WorkerReply);
