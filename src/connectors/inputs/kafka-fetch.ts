import { connect as connectTcp, type Socket } from 'node:net';

/**
 * The largest response taken: a Fetch asks for at most 50 MB, and a broker may exceed that by one
 * oversized record batch (its message.max.bytes). A size prefix beyond this, or too small to hold
 * a correlation id, is not a Kafka response.
 */
const MAX_RESPONSE_BYTES = 1 << 30;

/**
 * A connection of the Kafka input's own to one broker, for its Fetch requests: each response is
 * assembled in one buffer reused from response to response, and handed over in place. Through
 * kafkajs's connection every response became a buffer of its own (a concatenation of the socket's
 * reads, up to 50 MB each), and the garbage collector's work on them was the largest cost of the
 * JavaScript half of a Kafka drain after the engine (1.5 s of a 2 M-event drain).
 *
 * kafkajs keeps the rest: metadata, leaders, API versions, offsets, and requests are encoded with
 * its encoders. The connection speaks plain TCP, as the input's brokers do (it has no TLS or SASL
 * settings).
 */
export class KafkaFetchConnection {
  private response = Buffer.allocUnsafe(1 << 20);
  /** Bytes of the response assembled so far, its size prefix included. */
  private received = 0;
  private waiting: { correlationId: number; resolve: (payload: Buffer) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    /** `host:port`, for messages. */
    private readonly peer: string,
  ) {}

  static open(host: string, port: number): Promise<KafkaFetchConnection> {
    return new Promise((resolve, reject) => {
      const readInto = Buffer.allocUnsafe(1 << 20);
      let connection: KafkaFetchConnection | undefined;
      const socket = connectTcp({
        host,
        port,
        noDelay: true,
        onread: { buffer: readInto, callback: (bytes: number) => (connection?.take(readInto, bytes), true) },
      });
      connection = new KafkaFetchConnection(socket, `${host}:${port}`);
      const opened = connection;
      socket.once('connect', () => resolve(opened));
      socket.once('error', (error) => {
        opened.fail(error);
        reject(error);
      });
      socket.once('close', () => opened.fail(new Error(`the broker ${opened.peer} closed the connection`)));
    });
  }

  /** Why the connection cannot be used again, or undefined while it can. */
  get broken(): Error | undefined {
    return this.failure;
  }

  /**
   * Sends a request (`frame`: size, header and body, as kafkajs encodes them) and resolves to its
   * response after the correlation id. The response lives in a buffer the next request reuses: it
   * must be read before another is sent.
   */
  request(frame: Buffer, correlationId: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error('a Fetch is already in flight on this connection'));
    return new Promise((resolve, reject) => {
      this.waiting = { correlationId, resolve, reject };
      this.received = 0;
      this.socket.write(frame);
    });
  }

  private take(chunk: Buffer, bytes: number): void {
    if (!this.waiting) {
      if (bytes) this.fail(new Error('the broker sent bytes nothing asked for'));
      return;
    }
    let at = 0;
    while (at < bytes) {
      // The size prefix first, then room for the whole response.
      const want = this.received < 4 ? 4 : 4 + this.response.readInt32BE(0);
      if (want > this.response.length) this.grow(want);
      const n = Math.min(bytes - at, want - this.received);
      chunk.copy(this.response, this.received, at, at + n);
      this.received += n;
      at += n;
      if (this.received < 4) continue;
      const size = this.response.readInt32BE(0);
      if (size < 4 || size > MAX_RESPONSE_BYTES) {
        this.fail(new Error(`the broker ${this.peer} sent a response of ${size} bytes, which no Kafka broker sends (4 to ${MAX_RESPONSE_BYTES}): check that the address is a Kafka broker's`));
        return;
      }
      if (this.received === 4 + size) {
        const waiting = this.waiting;
        this.waiting = undefined;
        const correlationId = this.response.readInt32BE(4);
        if (correlationId !== waiting.correlationId) {
          const error = new Error(`the broker answered request ${correlationId}, not ${waiting.correlationId}`);
          this.fail(error);
          waiting.reject(error);
          return;
        }
        if (at < bytes) this.fail(new Error('the broker sent bytes nothing asked for'));
        waiting.resolve(this.response.subarray(8, this.received));
        return;
      }
    }
  }

  private grow(size: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(size, this.response.length * 2));
    this.response.copy(bigger, 0, 0, this.received);
    this.response = bigger;
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }

  close(): void {
    this.fail(new Error('closed'));
  }
}
