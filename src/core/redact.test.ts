import { describe, expect, it } from 'vitest';
import { redact } from './redact.js';

describe('redact', () => {
  it('hides the password of every URL and connection string in a text, and nothing else', () => {
    expect(redact('postgres://root:s3cret@127.0.0.1:5432/db')).toBe('postgres://root:***@127.0.0.1:5432/db');
    expect(redact("got 'nats://user:pw@a:4222,user:pw2@b:4222/CLICKS'")).toBe("got 'nats://user:***@a:4222,user:***@b:4222/CLICKS'");
    expect(redact('host=127.0.0.1 password=s3cret dbname=x')).toBe('host=127.0.0.1 password=*** dbname=x');
    expect(redact('kafka://broker:9092/topic and http://127.0.0.1:8080/x')).toBe('kafka://broker:9092/topic and http://127.0.0.1:8080/x');
    expect(redact('nats://s3cretToken@host:4222')).toBe('nats://***@host:4222');
    expect(redact('postgres://root@127.0.0.1/db')).toBe('postgres://root@127.0.0.1/db');
  });
});
