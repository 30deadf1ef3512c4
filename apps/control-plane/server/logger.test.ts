import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { serializeErr } from './logger.js';

/** A pino logger like createLogger's (same `err` serializer) writing its lines to an array. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ serializers: { err: serializeErr } }, stream), lines };
}

const SECRET_HASH = 'f'.repeat(20) + '0123456789abcdef'.repeat(2) + 'e'.repeat(12);

/** The shape of Drizzle's DrizzleQueryError around a driver error (drizzle-orm/errors.js). */
function failedInsert() {
  const driver = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021', detail: `Failing row contains (${SECRET_HASH}).` });
  const query = 'insert into "agents" ("name", "secret_hash") values ($1, $2)';
  const params = ['web\u0000-1', SECRET_HASH];
  return Object.assign(new Error(`Failed query: ${query}\nparams: ${params.join(',')}`), { query, params, cause: driver });
}

describe('the control plane log: err serializer', () => {
  it('logs a failed insert with its SQLSTATE and reason but no query text or parameter values', () => {
    const { logger, lines } = capture();
    logger.error({ err: failedInsert() }, 'enrollment failed');
    logger.error({ err: new Error('tRPC procedure failed', { cause: failedInsert() }) }, 'tRPC procedure failed');
    logger.error({ err: String(failedInsert()) }, 'stringified');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain(SECRET_HASH);
      expect(line).not.toMatch(/insert into|params:|web/);
    }
    const second = JSON.parse(lines[1]!) as { err: { message: string } };
    expect(second.err.message).toBe('tRPC procedure failed: database query failed: 22021 invalid byte sequence for encoding "UTF8": 0x00');
    const first = JSON.parse(lines[0]!) as { err: { message: string; code: string; stack?: string } };
    expect(first.err).toMatchObject({ message: 'database query failed: 22021 invalid byte sequence for encoding "UTF8": 0x00', code: '22021' });
    expect(first.err.stack).toMatch(/^\s+at /);
  });

  it('keeps pino’s standard serialization for other errors', () => {
    const err = Object.assign(new Error('boom'), { code: 'EBOOM' });
    expect(serializeErr(err)).toMatchObject({ type: 'Error', message: 'boom', code: 'EBOOM', stack: expect.stringContaining('boom') });
    expect(serializeErr('plain text')).toBe('plain text');
  });
});
