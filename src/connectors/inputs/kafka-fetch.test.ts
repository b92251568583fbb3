import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaFetchConnection } from './kafka-fetch.js';

/*
 * A broker on loopback that answers each request with a response the test makes, written in
 * pieces of any size, as a socket may deliver it.
 */

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Frames a response as a broker does: size, correlation id, payload. */
function response(correlationId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + payload.length, 0);
  head.writeInt32BE(correlationId, 4);
  return Buffer.concat([head, payload]);
}

/** A request frame as kafkajs encodes one: only its correlation id (bytes 8-11) matters here. */
function request(correlationId: number): Buffer {
  const frame = Buffer.alloc(16);
  frame.writeInt32BE(12, 0);
  frame.writeInt32BE(correlationId, 8);
  return frame;
}

async function broker(answer: (socket: Socket, correlationId: number) => void): Promise<number> {
  server = createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        answer(socket, pending.readInt32BE(8));
        pending = pending.subarray(4 + pending.readInt32BE(0));
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server!.address() as { port: number }).port;
}

/** Writes `bytes` in pieces of `size`, each in its own write. */
async function writeInPieces(socket: Socket, bytes: Buffer, size: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += size) {
    socket.write(bytes.subarray(at, at + size));
    await new Promise((r) => setImmediate(r));
  }
}

describe('a Kafka fetch connection', () => {
  it('assembles each response from reads of any size, in one buffer reused from response to response', async () => {
    // One larger than the first buffer (1 MiB), so that it grows; small ones byte by byte.
    const payloads = [Buffer.alloc(1_500_000, 7), Buffer.from('small'), Buffer.alloc(0), Buffer.alloc(300_000, 9)];
    const sizes = [65_536, 1, 3, 997];
    let sent = 0;
    const port = await broker((socket, id) => void writeInPieces(socket, response(id, payloads[sent % payloads.length]!), sizes[sent++ % sizes.length]!));
    const connection = await KafkaFetchConnection.open('127.0.0.1', port);
    try {
      for (let i = 0; i < payloads.length * 2; i++) {
        const got = await connection.request(request(100 + i), 100 + i);
        expect(got.equals(payloads[i % payloads.length]!), `response ${i}`).toBe(true);
      }
      expect(connection.broken).toBeUndefined();
    } finally {
      connection.close();
    }
  });

  it('breaks, and says so, when the broker closes mid-response or answers another request', async () => {
    const port = await broker((socket, id) => {
      const whole = response(id, Buffer.alloc(1000, 1));
      if (id === 1) socket.end(whole.subarray(0, 500));
      else socket.write(response(id + 1, Buffer.alloc(10)));
    });
    const cut = await KafkaFetchConnection.open('127.0.0.1', port);
    await expect(cut.request(request(1), 1)).rejects.toThrow(/closed the connection/);
    expect(cut.broken).toBeInstanceOf(Error);
    await expect(cut.request(request(2), 2)).rejects.toThrow(/closed the connection/);
    const crossed = await KafkaFetchConnection.open('127.0.0.1', port);
    await expect(crossed.request(request(5), 5)).rejects.toThrow(/answered request 6, not 5/);
    expect(crossed.broken).toBeInstanceOf(Error);
  });

  it('breaks at once, naming the size, on a size prefix no Kafka response has (negative, no room for a correlation id, past 1 GiB)', async () => {
    const prefixes = [-96, 0, 3, 0x7fff_ffff];
    const port = await broker((socket, id) => {
      const head = Buffer.alloc(8);
      head.writeInt32BE(prefixes[id]!, 0);
      head.writeInt32BE(id, 4);
      socket.write(head);
    });
    for (const [id, size] of prefixes.entries()) {
      const connection = await KafkaFetchConnection.open('127.0.0.1', port);
      await expect(connection.request(request(id), id), `prefix ${size}`).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${port} sent a response of ${size} bytes.*a Kafka broker's`));
      expect(connection.broken).toBeInstanceOf(Error);
    }
  });
});
