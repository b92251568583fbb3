import { connect as connectTcp, type Socket } from 'node:net';

/**
 * The NATS client protocol's messages, read in place: each delivery's reply subject and payload
 * go to their handler as slices of what the socket read, with no message object, no string and
 * no header object per message. The client library parses its input byte by byte into objects,
 * which cost more than the engine's whole work on a clickstream event.
 *
 * Only what a pull consumer's deliveries need is read: MSG and HMSG (a status such as 404 No
 * Messages arrives as HMSG without a reply subject), PING (answered), PONG, +OK, -ERR and INFO.
 */

/** What a subscription's handler gets: `reply` and `payload` are ranges of `source`, valid only during the call. */
export interface Delivery {
  source: Uint8Array;
  /** The reply subject is `replySource[replyStart, replyEnd)`; both -1 without one (a status). */
  replySource: Uint8Array;
  replyStart: number;
  replyEnd: number;
  payloadStart: number;
  payloadEnd: number;
  /** A status message's code (404, 408, 409…), 0 for a message. */
  status: number;
}

export type DeliveryHandler = (delivery: Delivery) => void;

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const ZERO = 0x30;
/** The header block's first line: `NATS/1.0` then a status code for a status message. */
const HEADER_VERSION = Buffer.from('NATS/1.0');
/**
 * The most a message may hold (NATS caps max_payload at 64 MB) and a control line may run without
 * its CRLF (the server's own limit is 4 KB): past them the bytes are not NATS, and waiting for a
 * frame's end would only hold ever more of them.
 */
const MAX_MESSAGE_BYTES = 64 << 20;
const MAX_CONTROL_LINE_BYTES = 64 << 10;

export class NatsProtocolError extends Error {}

/** The decimal number `source[start, end)` holds; -1 if it holds anything else. */
function numberAt(source: Uint8Array, start: number, end: number): number {
  if (start >= end) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = source[i]! - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** A status code in a header block, `NATS/1.0 404 …`; 0 when it has none. */
function statusOf(source: Buffer, start: number, end: number): number {
  if (end - start < HEADER_VERSION.length + 4 || source.compare(HEADER_VERSION, 0, HEADER_VERSION.length, start, start + HEADER_VERSION.length) !== 0) return 0;
  const at = start + HEADER_VERSION.length + 1;
  const code = numberAt(source, at, at + 3);
  return code < 0 ? 0 : code;
}

function malformedLine(source: Buffer, start: number, cr: number): NatsProtocolError {
  return new NatsProtocolError(`a malformed message line (a size is at most ${MAX_MESSAGE_BYTES} bytes): ${source.toString('latin1', start, cr)}`);
}

/** Where the (up to five) space-separated arguments of a control line lie. */
const ARGS = new Int32Array(10);

/**
 * Splits the arguments of `source[start, end)` into ARGS (start, end pairs); returns how many there
 * are, or -1 past `max`.
 */
function splitArguments(source: Uint8Array, start: number, end: number, max: number): number {
  let count = 0;
  let at = start;
  for (;;) {
    while (at < end && (source[at] === SPACE || source[at] === TAB)) at++;
    if (at >= end) return count;
    if (count === max) return -1;
    ARGS[count * 2] = at;
    while (at < end && source[at] !== SPACE && source[at] !== TAB) at++;
    ARGS[count * 2 + 1] = at;
    count++;
  }
}

/**
 * Reads the server's side of a connection, frame by frame, from the chunks the socket delivers.
 * A frame cut by a chunk's end waits, copied, for the rest.
 */
export class NatsFrameReader {
  private pending: Buffer | undefined;
  private readonly delivery: Delivery = { source: Buffer.alloc(0), replySource: Buffer.alloc(0), replyStart: -1, replyEnd: -1, payloadStart: 0, payloadEnd: 0, status: 0 };

  constructor(
    private readonly handlers: {
      /** A message for subscription `sid`. */
      message(sid: number, delivery: Delivery): void;
      ping(): void;
      pong(): void;
      info(json: string): void;
      error(message: string): void;
    },
  ) {}

  push(chunk: Buffer): void {
    let at = 0;
    if (this.pending) {
      // Only the frame cut by the last chunk's end is copied: its rest is taken from this chunk,
      // up to its control line's end first, then to the frame's end once its size is known.
      const joined = this.completeFrame(this.pending, chunk);
      if (joined.frame === undefined) {
        this.pending = joined.partial;
        return;
      }
      this.pending = undefined;
      if (this.frame(joined.frame, 0) !== joined.frame.length) throw new NatsProtocolError('a frame did not end where its size said');
      at = joined.taken;
    }
    while (at < chunk.length) {
      const next = this.frame(chunk, at);
      if (next < 0) break;
      at = next;
    }
    if (at < chunk.length) this.pending = Buffer.from(chunk.subarray(at));
  }

  /**
   * The cut frame `partial` made whole with the first `taken` bytes of `chunk`; or, when the chunk
   * does not finish it, undefined and the longer partial frame.
   */
  private completeFrame(partial: Buffer, chunk: Buffer): { frame?: Buffer; taken: number; partial: Buffer } {
    let line = partial.indexOf(CR);
    let head = partial;
    if (line < 0) {
      const cr = chunk.indexOf(CR);
      if (cr < 0 || cr + 1 >= chunk.length) return { taken: 0, partial: this.unfinishedLine(Buffer.concat([partial, chunk])) };
      head = Buffer.concat([partial, chunk.subarray(0, cr + 2)]);
      line = partial.length + cr;
    } else if (line + 1 >= partial.length) {
      // The control line's CR ended the last read; its LF starts this one.
      head = Buffer.concat([partial, chunk.subarray(0, 1)]);
    }
    const size = this.frameSize(head, line);
    if (size > partial.length + chunk.length) return { taken: 0, partial: Buffer.concat([partial, chunk]) };
    const frame = Buffer.allocUnsafe(size);
    partial.copy(frame, 0);
    chunk.copy(frame, partial.length, 0, size - partial.length);
    return { frame, taken: size - partial.length, partial };
  }

  /** Bytes of the frame whose control line ends at `cr` (a message's payload and its CRLF included). */
  private frameSize(source: Buffer, cr: number): number {
    const op = ((source[0]! | 0x20) << 8) | (source[1]! | 0x20);
    if (op !== 0x6d73 && op !== 0x686d) return cr + 2;
    const count = splitArguments(source, op === 0x686d ? 4 : 3, cr, op === 0x686d ? 5 : 4);
    const total = count > 0 ? numberAt(source, ARGS[(count - 1) * 2]!, ARGS[(count - 1) * 2 + 1]!) : -1;
    if (total < 0 || total > MAX_MESSAGE_BYTES) throw malformedLine(source, 0, cr);
    return cr + 2 + total + 2;
  }

  /** Bytes that hold no control line's end yet: kept for the next read while they could still be one. */
  private unfinishedLine(bytes: Buffer): Buffer {
    if (bytes.length > MAX_CONTROL_LINE_BYTES) {
      throw new NatsProtocolError(`${bytes.length} bytes without a control line's end (CRLF) from the server: ${bytes.toString('latin1', 0, 80)}…`);
    }
    return bytes;
  }

  /** Reads the frame at `at`; returns where the next one starts, or -1 when it is not complete yet. */
  private frame(source: Buffer, at: number): number {
    const cr = source.indexOf(CR, at);
    if (cr < 0 || cr + 1 >= source.length) {
      this.unfinishedLine(source.subarray(at));
      return -1;
    }
    if (source[cr + 1] !== LF) throw new NatsProtocolError(`a control line not ended by CRLF: ${source.toString('latin1', at, Math.min(cr + 2, at + 80))}`);
    const op = ((source[at]! | 0x20) << 8) | (source[at + 1]! | 0x20);
    const lineEnd = cr + 2;
    switch (op) {
      case 0x6d73: // MSG <subject> <sid> [reply] <size>
      case 0x686d: {
        // HMSG <subject> <sid> [reply] <header size> <total size>
        const headers = op === 0x686d;
        const count = splitArguments(source, at + (headers ? 4 : 3), cr, headers ? 5 : 4);
        const least = headers ? 4 : 3;
        if (count < least) throw new NatsProtocolError(`a malformed ${headers ? 'HMSG' : 'MSG'}: ${source.toString('latin1', at, cr)}`);
        const sid = numberAt(source, ARGS[2]!, ARGS[3]!);
        const hasReply = count > least;
        const total = numberAt(source, ARGS[(count - 1) * 2]!, ARGS[(count - 1) * 2 + 1]!);
        const headerBytes = headers ? numberAt(source, ARGS[(count - 2) * 2]!, ARGS[(count - 2) * 2 + 1]!) : 0;
        if (sid < 0 || total < 0 || total > MAX_MESSAGE_BYTES || headerBytes < 0 || headerBytes > total) throw malformedLine(source, at, cr);
        const end = lineEnd + total;
        if (end + 2 > source.length) return -1;
        if (source[end] !== CR || source[end + 1] !== LF) throw new NatsProtocolError(`a message not ended by CRLF after the ${total} bytes its line gives: ${source.toString('latin1', at, cr)}`);
        const d = this.delivery;
        d.source = source;
        d.replySource = source;
        d.replyStart = hasReply ? ARGS[4]! : -1;
        d.replyEnd = hasReply ? ARGS[5]! : -1;
        d.payloadStart = lineEnd + headerBytes;
        d.payloadEnd = end;
        d.status = headers ? statusOf(source, lineEnd, lineEnd + headerBytes) : 0;
        this.handlers.message(sid, d);
        return end + 2;
      }
      case 0x7069: // PING
        this.handlers.ping();
        return lineEnd;
      case 0x706f: // PONG
        this.handlers.pong();
        return lineEnd;
      case 0x696e: // INFO {...}
        this.handlers.info(source.toString('utf8', at + 5, cr));
        return lineEnd;
      default:
        if (source[at] === 0x2d) this.handlers.error(source.toString('utf8', at, cr)); // -ERR '…'
        return lineEnd; // +OK and anything else a newer server may say
    }
  }
}

/** What the server asks for (`auth_required`): a user and password, or a token. */
export interface NatsCredentials {
  user?: string;
  pass?: string;
  token?: string;
}

/** What the server says of itself when a client connects. */
interface ServerInfo {
  tls_required?: boolean;
  auth_required?: boolean;
  headers?: boolean;
}

/**
 * A connection of its own for a pull consumer's deliveries, read with NatsFrameReader; the client
 * library keeps the other work (streams, consumers, their state). It speaks plain TCP, with a user
 * and password or a token where the server asks for them: `open` answers undefined for a server that asks for
 * TLS or for credentials it was not given, and the input then reads through the library.
 */
export class NatsDataConnection {
  private readonly subscriptions = new Map<number, DeliveryHandler>();
  private nextSid = 1;
  private closed: Error | undefined;
  private readonly closeListeners = new Set<(error: Error) => void>();

  private constructor(private readonly socket: Socket) {}

  /** Connects to the first of `servers` (`host:port`, `nats://host:port`) that answers. */
  static async open(servers: readonly string[], credentials: NatsCredentials = {}): Promise<NatsDataConnection | undefined> {
    for (const server of servers) {
      const url = new URL(server.includes('://') ? server : `nats://${server}`);
      // TLS (tls://) is the library's to handle.
      if (url.protocol !== 'nats:') return undefined;
      const connection = await NatsDataConnection.handshake(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 4222), credentials).catch(() => null);
      if (connection !== null) return connection;
    }
    return undefined;
  }

  private static handshake(host: string, port: number, credentials: NatsCredentials): Promise<NatsDataConnection | undefined> {
    return new Promise((resolve, reject) => {
      // Reads land in one buffer reused for every read (each delivery is copied into the batch
      // while it is handled): a buffer per read was most of what the collector freed.
      const readInto = Buffer.allocUnsafe(1 << 20);
      const socket = connectTcp({
        host,
        port,
        noDelay: true,
        onread: {
          buffer: readInto,
          callback: (bytes: number) => {
            try {
              reader.push(readInto.subarray(0, bytes));
            } catch (error) {
              if (stage !== 'open') fail(error as Error);
              else connection?.fail(error as Error);
            }
            return true;
          },
        },
      });
      let connection: NatsDataConnection | undefined;
      let stage: 'info' | 'pong' | 'open' = 'info';
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      const reader = new NatsFrameReader({
        message: (sid, delivery) => connection?.subscriptions.get(sid)?.(delivery),
        ping: () => socket.write('PONG\r\n'),
        pong: () => {
          if (stage !== 'pong') return;
          stage = 'open';
          socket.setTimeout(0);
          resolve(connection);
        },
        info: (json) => {
          if (stage !== 'info') return;
          const info = JSON.parse(json) as ServerInfo;
          if (info.tls_required || (info.auth_required && !credentials.user && !credentials.token) || info.headers === false) {
            socket.destroy();
            resolve(undefined);
            return;
          }
          stage = 'pong';
          connection = new NatsDataConnection(socket);
          const auth = !info.auth_required ? {} : credentials.token ? { auth_token: credentials.token } : { user: credentials.user, pass: credentials.pass };
          socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, lang: 'node', name: 'tributary', protocol: 1, headers: true, no_responders: true, ...auth })}\r\nPING\r\n`);
        },
        error: (message) => {
          if (stage !== 'open') fail(new Error(message));
          else connection?.fail(new Error(`the NATS server said ${message}`));
        },
      });
      socket.setTimeout(5_000, () => fail(new Error('no answer from the NATS server')));
      socket.on('error', (error) => (stage === 'open' ? connection?.fail(error) : fail(error)));
      socket.on('close', () => (stage === 'open' ? connection?.fail(new Error('the NATS server closed the connection')) : fail(new Error('the NATS server closed the connection'))));
    });
  }

  /** Why the connection is unusable (dropped, a protocol error), or undefined while it works. */
  get broken(): Error | undefined {
    return this.closed;
  }

  /** Calls `listener` once if the connection breaks while it is registered; returns the unregistration. */
  onBreak(listener: (error: Error) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.closed = error;
    this.socket.destroy();
    for (const listener of [...this.closeListeners]) listener(error);
  }

  subscribe(subject: string, handler: DeliveryHandler): number {
    const sid = this.nextSid++;
    this.subscriptions.set(sid, handler);
    this.socket.write(`SUB ${subject} ${sid}\r\n`);
    return sid;
  }

  unsubscribe(sid: number): void {
    // Deliveries already on their way to an ended subscription are dropped by its absence here.
    this.subscriptions.delete(sid);
    if (!this.closed) this.socket.write(`UNSUB ${sid}\r\n`);
  }

  publish(subject: string, reply: string, payload: string): void {
    this.socket.write(`PUB ${subject} ${reply} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`);
  }

  close(): void {
    this.subscriptions.clear();
    this.closeListeners.clear();
    this.closed ??= new Error('closed');
    this.socket.end();
  }
}
