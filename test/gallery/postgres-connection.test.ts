/**
 * What facectl sends when it connects: a startup packet that PgBouncer accepts (no `options`), and only
 * what the URL says (PGOPTIONS ignored); search_path set in SQL after connecting instead.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { connect, parsePgUrl } from '../../src/gallery/postgres/connection.js';
import { expectFacectlError } from '../store/helpers.js';
import { startPgServer, type PgServer } from '../helpers/pg-server.js';

/** A server that records the startup packet's parameters and then refuses the connection, as PgBouncer does with `options`. */
async function recordStartup(): Promise<{ url: string; params: Promise<Record<string, string>>; close: () => Promise<void> }> {
  let resolve!: (p: Record<string, string>) => void;
  const params = new Promise<Record<string, string>>((r) => (resolve = r));
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return;
      const fields = buf.subarray(8, buf.readInt32BE(0) - 1).toString('utf8').split('\0');
      const out: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
      resolve(out);
      const body = Buffer.from('SFATAL\0C08P01\0Mstartup packet recorded\0\0');
      const head = Buffer.alloc(5);
      head.write('E');
      head.writeInt32BE(body.length + 4, 1);
      socket.end(Buffer.concat([head, body]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `postgres://alice:pw@127.0.0.1:${port}/gate?schema=lobby`, params, close: () => new Promise((r) => server.close(() => r())) };
}

describe('postgres connection: the startup packet', () => {
  it('carries no `options` (PgBouncer: "unsupported startup parameter: options"), also with PGOPTIONS set', async () => {
    const saved = process.env.PGOPTIONS;
    process.env.PGOPTIONS = '-c search_path=evil';
    const server = await recordStartup();
    try {
      await expectFacectlError(() => connect(parsePgUrl(server.url)), ExitCode.DB_UNREACHABLE, /startup packet recorded/);
      const params = await server.params;
      expect(params).not.toHaveProperty('options');
      expect(params).toMatchObject({ user: 'alice', database: 'gate', application_name: 'facectl', client_encoding: 'UTF8' });
    } finally {
      if (saved === undefined) delete process.env.PGOPTIONS;
      else process.env.PGOPTIONS = saved;
      await server.close();
    }
  });
});

describe('postgres connection: names in the URL', () => {
  it('a NUL (or other control character) in the user or database name, or a NUL in the password, is exit 2, never sent', async () => {
    for (const [url, what] of [
      ['postgres://u@h/db%00x', 'database name'],
      ['postgres://u%00x@h/db', 'user name'],
      ['postgres://u@h/db%0Ax', 'database name'],
      ['postgres://u%1B@h/db', 'user name'],
      ['postgres://u@h/db%7F', 'database name'],
      ['postgres://u:se%00cret@h/db', 'password'],
    ] as const) {
      const err = await expectFacectlError(() => parsePgUrl(url), ExitCode.USAGE, new RegExp(`^the store URL's ${what} holds a control character`));
      expect(err.message).not.toMatch(/cret|x\b|\0/);
    }
    // A password may hold other control characters (libpq sends them); printable names are untouched.
    expect(parsePgUrl('postgres://j%C3%B6rg:p%09w@h/caf%C3%A9').config).toMatchObject({ user: 'jörg', database: 'café' });
  });
});

describe('postgres connection: the session', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPgServer();
  }, 120_000);
  afterAll(async () => server?.stop());

  it('sets search_path in SQL: public (pgvector is there on this server), whatever the session had', async () => {
    const side = await connect(parsePgUrl(server.url('x')));
    // PGlite serves one session to every connection: this is the next connection's search_path too.
    await side.query('SET search_path = pg_temp');
    const c = await connect(parsePgUrl(server.url('x')));
    try {
      expect((await c.query('SHOW search_path')).rows[0].search_path).toBe('public');
    } finally {
      await c.end();
      await side.end();
    }
  });
});
