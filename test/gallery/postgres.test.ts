/**
 * The PostgreSQL + pgvector gallery over the real wire protocol (PGlite served by scripts/pg-serve.ts,
 * or FACECTL_TEST_PG_URL): the shared Gallery contract, plus connection handling, schema versions, a
 * server without pgvector, HNSW search, and the connection string as the only configuration.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { clientFor, parsePgUrl } from '../../src/gallery/postgres/connection.js';
import { redact } from '../../src/redact-url.js';
import { hnswBuildMemoryKb, PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import type { Gallery } from '../../src/gallery/types.js';
import { expectFacectlError } from '../store/helpers.js';
import { startPgProxy } from '../helpers/pg-proxy.js';
import { startPgServer, uniqueSchema, type PgServer } from '../helpers/pg-server.js';
import { DIM, galleryContract, MODEL, newFace, unitVectors } from './contract.js';

let server: PgServer;
const opened: Gallery[] = [];
const open = async (schema = uniqueSchema(), options: { mustExist?: boolean } = {}) => {
  const g = await PostgresGallery.open(server.url(schema), options);
  opened.push(g);
  return g;
};

beforeAll(async () => {
  server = await startPgServer();
}, 120_000);
afterAll(async () => {
  for (const g of opened) await g.close();
  await server?.stop();
});

describe('postgres gallery: the Gallery contract', () => {
  galleryContract(() => open());
});

describe('postgres gallery: connection, schema, index', () => {
  it('reads an absent gallery as empty, refuses it with mustExist, and creates it on the first write', async () => {
    const schema = uniqueSchema();
    await expectFacectlError(() => open(schema, { mustExist: true }), ExitCode.NOT_FOUND, /no facectl gallery in schema/);
    const g = await open(schema);
    expect(await g.info()).toMatchObject({ backend: 'postgres', faces: 0, model: null });
    await expectFacectlError(() => g.mutate((d) => d.removeIdentity('x'), { create: false }), ExitCode.NOT_FOUND);
    await g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)]));
    const again = await open(schema, { mustExist: true });
    expect(await again.info()).toMatchObject({ faces: 1, identities: 1, model: MODEL, details: { schema, 'schema version': 1 } });
  });

  it('refuses a schema written by a newer facectl', async () => {
    const schema = uniqueSchema();
    const g = await open(schema);
    await g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)]));
    const c = clientFor(parsePgUrl(server.url(schema)));
    await c.connect();
    await c.query(`UPDATE "${schema}".meta SET value = '99' WHERE key = 'schema_version'`);
    await c.end();
    await expectFacectlError(() => open(schema), ExitCode.STORE_ERROR, /newer facectl \(schema version 99/);
  });

  it('HNSW search (pgvector) finds the same best match as the exact scan, with exact scores', async () => {
    const g = await open();
    const v = unitVectors(300, DIM, 21);
    await g.mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    const built = await g.rebuildIndex('hnsw');
    expect(built).toMatchObject({ kind: 'hnsw', identities: 300 });
    expect((await g.info()).details['search index']).toMatch(/^hnsw/);
    for (const i of [0, 150, 299]) {
      const exact = await g.search(v[i]!, 3, 'flat');
      const approx = await g.search(v[i]!, 3, 'hnsw');
      expect(approx.index).toEqual({ kind: 'hnsw', origin: 'loaded' });
      expect(approx.hits[0]![0]).toEqual(exact.hits[0]![0]);
      expect(exact.hits[0]![0]!.id).toBe(`p${i}`);
    }
    expect((await g.check()).ok).toBe(true);
  });

  it("a model wider than pgvector's HNSW takes (2000 dimensions): the exact scan, with a note, where it was SQL error 54000", async () => {
    const g = await open();
    const wide = { id: 'toy-2048', hash: 'fp:toy-2048', dimension: 2048 };
    const v = unitVectors(20, wide.dimension, 61);
    await g.mutate(async (d) => d.addFaces(wide, v.map((e, i) => newFace(`p${i}`, e))));
    const note = /^exact scan: pgvector's HNSW indexes at most 2000 dimensions, this model has 2048$/;
    const found = await g.search(v[3]!, 3, 'hnsw');
    expect(found.index).toEqual({ kind: 'flat', origin: expect.stringMatching(note) });
    expect(found.hits[0]![0]!.id).toBe('p3');
    expect(await g.rebuildIndex('hnsw')).toMatchObject({ kind: 'flat', where: expect.stringMatching(/^exact scan of t_\w+\.identities \(pgvector's HNSW indexes at most 2000 dimensions, this model has 2048\)$/) });
    expect((await g.info()).details['search index']).toBe('none (exact scan)');
  });

  it('the HNSW build asks for the memory its graph needs: never below 64 MB, never above 1 GB', () => {
    expect(hnswBuildMemoryKb(300, 128)).toBe(64 * 1024);
    expect(hnswBuildMemoryKb(100_000, 128)).toBe(Math.round((100_000 * (512 + 400) * 1.25) / 1024));
    // pgvector 0.8.7 on PGlite filled 16 MB after 15,552 128-d faces (its "no longer fits" notice):
    // ~1,079 B each. The estimate must cover that, or the build spills to disk after all.
    expect(hnswBuildMemoryKb(100_000, 128) * 1024).toBeGreaterThan(100_000 * ((16 << 20) / 15_552));
    expect(hnswBuildMemoryKb(100_000, 704)).toBeGreaterThan(hnswBuildMemoryKb(100_000, 128));
    expect(hnswBuildMemoryKb(10_000_000, 512)).toBe(1024 * 1024);
  });

  it('an unreachable server is DB_UNREACHABLE (exit 15) in one line, without the password', async () => {
    const err = await expectFacectlError(() => PostgresGallery.open('postgres://me:secret@127.0.0.1:1/db'), ExitCode.DB_UNREACHABLE, /cannot connect to PostgreSQL at postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/db \(ECONNREFUSED/);
    expect(err.message).not.toContain('secret');
  });

  it("refuses the server's reserved schema names (pg_*, information_schema): exit 2", async () => {
    for (const schema of ['pg_catalog', 'pg_toast', 'pg_facectl', 'information_schema'])
      await expectFacectlError(() => parsePgUrl(`postgres://u@h/d?schema=${schema}`), ExitCode.USAGE, new RegExp(`^schema "${schema}" is reserved by PostgreSQL \\(pg_\\* and information_schema\\): choose another \\?schema=$`));
    expect(parsePgUrl('postgres://u@h/d?schema=pgfaces').schema).toBe('pgfaces');
  });

  it('bounds every wait: query_timeout (default 300 s) and TCP keepalive; a timeout longer than a Node timer holds is exit 2', async () => {
    const { config } = parsePgUrl('postgres://u@h/d');
    expect([config.query_timeout, config.keepAlive, config.connectionTimeoutMillis]).toEqual([300_000, true, 10_000]);
    expect(parsePgUrl('postgres://u@h/d?query_timeout=2.5&connect_timeout=2147483').config).toMatchObject({ query_timeout: 2500, connectionTimeoutMillis: 2_147_483_000 });
    // 1e10 s printed Node's TimeoutOverflowWarning and timed out after 1 ms.
    for (const bad of ['connect_timeout=2147484', 'connect_timeout=1e10', 'connect_timeout=-1', 'query_timeout=0', 'query_timeout=abc'])
      await expectFacectlError(() => parsePgUrl(`postgres://u@h/d?${bad}`), ExitCode.USAGE, /_timeout must be a number of seconds above 0 and at most 2147483, got "/);
  });

  it('a network that stops answering: exit 15 after query_timeout, in one line; later calls fail at once; a reopened gallery works once it answers', async () => {
    const proxy = await startPgProxy(server.url(uniqueSchema()));
    try {
      const g = await PostgresGallery.open(`${proxy.url()}&query_timeout=1`);
      opened.push(g);
      await g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)]));
      await proxy.freeze();
      let t0 = performance.now();
      await expectFacectlError(() => g.info(), ExitCode.DB_UNREACHABLE, /^no answer from PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?schema=\w+&query_timeout=1 within 1 s \(query_timeout\)/);
      expect(performance.now() - t0).toBeLessThan(1900); // no second wait, for a ROLLBACK behind the hung statement
      t0 = performance.now();
      await expectFacectlError(() => g.identities(), ExitCode.DB_UNREACHABLE, /^no answer from PostgreSQL/);
      expect(performance.now() - t0).toBeLessThan(200);
      await g.close();
      await proxy.thaw();
      const again = await g.reopen();
      opened.push(again);
      expect((await again.info()).faces).toBe(1);
    } finally {
      await proxy.stop();
    }
  });

  it('a read sees one snapshot and a writer reads committed, whatever the database default (here serializable)', async () => {
    const g = await open();
    await g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)]));
    const side = clientFor(parsePgUrl(server.url('x')));
    await side.connect();
    // PGlite serves one session to every connection: this is the gallery's connection's default too.
    await side.query(`SET default_transaction_isolation = 'serializable'`);
    try {
      // White box: the gallery's own connection, inside its own read and writer transactions.
      const inside = g as unknown as { c: pg.Client; read<T>(fn: () => Promise<T>): Promise<T> };
      const level = async () => (await inside.c.query(`SELECT current_setting('transaction_isolation') AS i, current_setting('transaction_read_only') AS ro`)).rows[0];
      expect(await inside.read(level)).toEqual({ i: 'repeatable read', ro: 'on' });
      // Under the advisory lock a writer must see what the writer before it committed: a snapshot taken
      // before the lock (repeatable read, serializable) would not.
      expect((await g.mutate(level)).result).toEqual({ i: 'read committed', ro: 'off' });
    } finally {
      await side.query('RESET default_transaction_isolation');
      await side.end();
    }
  });

  it('box and quality values come back exact where the server rounds float8 (extra_float_digits = 0 by default)', async () => {
    const side = clientFor(parsePgUrl(server.url('x')));
    await side.connect();
    // PGlite serves one session to every connection: this is the gallery's connection's default too.
    await side.query('SET extra_float_digits = 0');
    try {
      const g = await open();
      const face = newFace('a', unitVectors(1)[0]!, {
        box: { x: 0.1 + 0.2, y: 1 / 3, width: 100.12345678901234, height: Math.PI * 10 },
        quality: { score: 0.9876543210987654, eyeDistancePx: Math.E * 10, sizePx: 100.1, rollDeg: -1 / 7, yawDeg: 2 / 3, sharpness: Math.SQRT2 },
      });
      await g.mutate(async (d) => d.addFaces(MODEL, [face]));
      const [row] = await g.rows();
      expect([row!.box, row!.quality]).toEqual([face.box, face.quality]);
    } finally {
      await side.query('RESET extra_float_digits');
      await side.end();
    }
  });

  it("a bug's error inside a transaction stays itself (exit 1), not a lost connection, and the gallery goes on", async () => {
    const g = await open();
    const bug = new TypeError("Cannot read properties of undefined (reading 'connection')");
    await expect(g.mutate(async () => Promise.reject(bug))).rejects.toBe(bug);
    await g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)]));
    expect((await g.info()).faces).toBe(1);
  });

  it('uses only the connection string: PG* variables and ~/.pgpass are ignored', () => {
    const planted = { PGHOST: 'evil.example', PGPORT: '6666', PGUSER: 'mallory', PGDATABASE: 'other', PGPASSWORD: 'leak', PGSSLMODE: 'require', PGOPTIONS: '-c search_path=evil', PGAPPNAME: 'x' };
    // Each key's own value (a developer's PGHOST included), put back by name afterwards.
    const saved = Object.fromEntries(Object.keys(planted).map((k) => [k, process.env[k]]));
    Object.assign(process.env, planted);
    try {
      const client = clientFor(parsePgUrl('postgres://alice@db.local/faces?schema=gate'));
      const p = (client as unknown as { connectionParameters: Record<string, unknown> }).connectionParameters;
      expect([p.host, p.port, p.user, p.database, p.ssl, p.options, p.application_name]).toEqual(['db.local', 5432, 'alice', 'faces', false, undefined, 'facectl']);
      expect(typeof (client as unknown as { password: unknown }).password).toBe('function');
      expect(process.env.PGHOST).toBe('evil.example'); // read, not consumed or changed, by clientFor
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    for (const k of Object.keys(planted)) expect(process.env[k], k).toBe(saved[k]);
    expect(parsePgUrl('postgres://u:p@h:1/d?schema=s1').schema).toBe('s1');
    expect(() => parsePgUrl('postgres://u@h/d?schema=Bad-Name')).toThrow(/schema name/);
    expect(() => parsePgUrl('postgres://u@h/d?host=elsewhere')).toThrow(/unsupported parameter "host"/);
    expect(redact('postgresql://u:p%40ss@h/d')).toBe('postgresql://u:***@h/d');
    // The user information ends at the last @, as the URL parser splits it (Azure's user@server names).
    expect(redact('postgres://us@er:secret@127.0.0.1:1/x')).toBe('postgres://us%40er:***@127.0.0.1:1/x');
    expect(redact('postgres://u:p@ss@h/x')).toBe('postgres://u:***@h/x');
    expect(redact('postgres://u:pa/ss@h/d')).toBe('postgres://***@h/d'); // does not parse: all of the user information goes
    expect(redact('postgres://u@h/d')).toBe('postgres://u@h/d');
    expect(() => parsePgUrl('postgres://u@h:0/x')).toThrow(/port 0/);
    expect(() => parsePgUrl('postgres://u:p%zz@h/x')).toThrow(/^the store URL's password has a bad %-escape$/);
    expect(() => parsePgUrl('postgres://u:pa/ss@h/d')).toThrow(/^not a valid PostgreSQL URL: postgres:\/\/\*\*\*@h\/d$/);
  });
});

/** A server of its own: pgvector is available but not created yet, and the roles are changed. */
describe.skipIf(!!process.env.FACECTL_TEST_PG_URL)('postgres gallery: where and by whom pgvector is created', () => {
  let other: PgServer;
  const sql = async (text: string) => {
    const c = clientFor(parsePgUrl(other.url('x')));
    await c.connect();
    await c.query(text);
    await c.end();
  };
  beforeAll(async () => {
    other = await startPgServer();
  }, 120_000);
  afterAll(async () => other?.stop());

  it('a role that may not create the extension: exit 11 saying the database owner must create it, not "no pgvector"', async () => {
    // PGlite serves one session to every connection: SET ROLE here is the role of the gallery's connection too.
    await sql('CREATE ROLE weak; GRANT CREATE ON SCHEMA public TO weak; SET ROLE weak');
    const g = await PostgresGallery.open(other.url(uniqueSchema()));
    try {
      const err = await expectFacectlError(
        () => g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)])),
        ExitCode.STORE_ERROR,
        /^this PostgreSQL role may not create the pgvector extension \(permission denied to create extension "vector"\): the database owner or a superuser must run CREATE EXTENSION vector once in this database$/,
      );
      expect(err.message).not.toMatch(/no pgvector/);
    } finally {
      await g.close();
      await sql('RESET ROLE');
    }
  });

  it('installed in another schema (Supabase: "extensions"): enrolls, searches (exact and HNSW) and checks, the type "vector" resolving', async () => {
    await sql('CREATE SCHEMA extensions; CREATE EXTENSION vector SCHEMA extensions');
    const g = await PostgresGallery.open(other.url(uniqueSchema()));
    try {
      const v = unitVectors(20, DIM, 3);
      await g.mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
      expect((await g.search(v[5]!, 1, 'flat')).hits[0]![0]!.id).toBe('p5');
      await g.rebuildIndex('hnsw');
      expect((await g.search(v[5]!, 1, 'hnsw')).hits[0]![0]!.id).toBe('p5');
      expect((await g.check()).problems).toEqual([]);
    } finally {
      await g.close();
    }
  });
});

describe('postgres gallery: a server without pgvector', () => {
  let bare: PgServer;
  beforeAll(async () => {
    bare = await startPgServer({ vector: false });
  }, 120_000);
  afterAll(async () => bare?.stop());

  it('the first write says in one line that the server has no pgvector (exit 11)', async () => {
    const g = await PostgresGallery.open(bare.url(uniqueSchema()));
    try {
      await expectFacectlError(() => g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)])), ExitCode.STORE_ERROR, /no pgvector extension/);
    } finally {
      await g.close();
    }
  });
});
