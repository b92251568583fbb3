import { describe, expect, it } from 'vitest';
import { NatsFrameReader, NatsProtocolError } from './nats-messages.js';

/*
 * What a NATS server sends a pull consumer, framed as the protocol says, read back in place
 * however the socket cuts it into reads.
 */

interface Seen {
  sid: number;
  reply: string | null;
  payload: string;
  status: number;
}

function reader() {
  const seen: Seen[] = [];
  const events: string[] = [];
  const r = new NatsFrameReader({
    message: (sid, d) => {
      seen.push({
        sid,
        reply: d.replyStart < 0 ? null : Buffer.from(d.replySource.subarray(d.replyStart, d.replyEnd)).toString('latin1'),
        payload: Buffer.from(d.source.subarray(d.payloadStart, d.payloadEnd)).toString('utf8'),
        status: d.status,
      });
    },
    ping: () => events.push('ping'),
    pong: () => events.push('pong'),
    info: (json) => events.push(`info ${json}`),
    error: (message) => events.push(message),
  });
  return { r, seen, events };
}

const reply = (seq: number) => `$JS.ACK.CLICKS.abc12345.1.${seq}.${seq}.1795000000000000000.${100 - seq}`;
const msg = (sid: number, seq: number, payload: string) => `MSG _INBOX.x ${sid} ${reply(seq)} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`;
const hmsg = (sid: number, headers: string, payload: string, replyTo?: string) => {
  const h = `${headers}\r\n\r\n`;
  return `HMSG _INBOX.x ${sid}${replyTo ? ` ${replyTo}` : ''} ${Buffer.byteLength(h)} ${Buffer.byteLength(h) + Buffer.byteLength(payload)}\r\n${h}${payload}\r\n`;
};

const stream = Buffer.from(
  'INFO {"server_id":"x","headers":true}\r\n' +
    msg(1, 1, '{"event_type":"view","price":1.5}') +
    'PING\r\n' +
    msg(1, 2, '{"brand":"tognana","text":"é ü \\r\\n quoted \\"MSG 1 2\\""}') +
    '+OK\r\n' +
    hmsg(1, 'NATS/1.0\r\nTrace: yes', '{"with":"headers"}', reply(3)) +
    msg(2, 4, '') +
    hmsg(1, 'NATS/1.0 404 No Messages', '') +
    'PONG\r\n' +
    "-ERR 'Slow Consumer'\r\n",
);

const expected: Seen[] = [
  { sid: 1, reply: reply(1), payload: '{"event_type":"view","price":1.5}', status: 0 },
  { sid: 1, reply: reply(2), payload: '{"brand":"tognana","text":"é ü \\r\\n quoted \\"MSG 1 2\\""}', status: 0 },
  { sid: 1, reply: reply(3), payload: '{"with":"headers"}', status: 0 },
  { sid: 2, reply: reply(4), payload: '', status: 0 },
  { sid: 1, reply: null, payload: '', status: 404 },
];
const expectedEvents = ['info {"server_id":"x","headers":true}', 'ping', 'pong', "-ERR 'Slow Consumer'"];

describe('NATS frames read in place', () => {
  it('reads messages, headers, statuses and control lines in one read', () => {
    const { r, seen, events } = reader();
    r.push(stream);
    expect(seen).toEqual(expected);
    expect(events).toEqual(expectedEvents);
  });

  it('reads the same however the stream is cut into reads', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const { r, seen, events } = reader();
      r.push(stream.subarray(0, cut));
      r.push(stream.subarray(cut));
      expect(seen, `cut at ${cut}`).toEqual(expected);
      expect(events).toEqual(expectedEvents);
    }
    // Byte by byte, into one buffer reused for every read (as the socket does).
    const { r, seen } = reader();
    const read = Buffer.alloc(1);
    for (const byte of stream) {
      read[0] = byte;
      r.push(read);
    }
    expect(seen).toEqual(expected);
  });

  it('refuses a message line it cannot read, naming it', () => {
    const { r } = reader();
    expect(() => r.push(Buffer.from('MSG _INBOX.x one 12\r\n'))).toThrow(NatsProtocolError);
    expect(() => reader().r.push(Buffer.from('MSG _INBOX.x 1 $JS.ACK.a 9x\r\n'))).toThrow(/malformed/);
    expect(() => reader().r.push(Buffer.from('MSG _INBOX.x 1\rX\n'))).toThrow(/CRLF/);
  });

  it('refuses bytes that cannot be NATS instead of holding them for a frame that never ends', () => {
    // A payload longer than its line says: what follows it is not the frame's CRLF.
    const { r, seen } = reader();
    expect(() => r.push(Buffer.from(`MSG _INBOX.x 1 ${reply(1)} 2\r\n{"a":1}\r\n`))).toThrow(/not ended by CRLF after the 2 bytes/);
    expect(seen).toEqual([]);
    // A size past NATS's 64 MB cap, read whole or cut after the line.
    const huge = `MSG _INBOX.x 1 ${reply(1)} 1000000000000\r\n`;
    expect(() => reader().r.push(Buffer.from(huge))).toThrow(/malformed message line \(a size is at most 67108864 bytes\): MSG _INBOX.x 1/);
    const cut = reader();
    cut.r.push(Buffer.from(huge.slice(0, 20)));
    expect(() => cut.r.push(Buffer.from(huge.slice(20)))).toThrow(/at most 67108864 bytes/);
    // 64 KiB and more with no control line's end, in one read or many.
    const noLine = Buffer.alloc(70_000, 0x41);
    expect(() => reader().r.push(noLine)).toThrow(/70000 bytes without a control line's end/);
    const pieces = reader();
    expect(() => {
      for (let at = 0; at < noLine.length; at += 4096) pieces.r.push(noLine.subarray(at, at + 4096));
    }).toThrow(/without a control line's end/);
  });
});
