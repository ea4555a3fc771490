/**
 * A PostgreSQL server for tests: PGlite + pgvector served on a free local port by scripts/pg-serve.ts
 * (the real wire protocol, no system server needed), started and stopped by the tests themselves. With
 * FACECTL_TEST_PG_URL set, the same tests run against that server instead. Each test uses its own schema.
 */
import { spawn } from 'node:child_process';
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { clientFor, parsePgUrl } from '../../src/gallery/postgres/connection.js';
import path from 'node:path';
import { repoRoot } from './shared.js';

export interface PgServer {
  /** The server's URL with `?schema=<schema>`. */
  url(schema: string): string;
  stop(): Promise<void>;
}

let counter = 0;
export const uniqueSchema = (): string => `t_${process.pid}_${Date.now().toString(36)}_${counter++}`;

const withSchema = (url: string, schema: string): string => `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`;

export async function startPgServer(options: { vector?: boolean } = {}): Promise<PgServer> {
  const external = process.env.FACECTL_TEST_PG_URL;
  if (external && options.vector !== false) return { url: (schema) => withSchema(external, schema), stop: async () => undefined };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/pg-serve.ts'), '--port', '0', ...(options.vector === false ? ['--no-vector'] : [])], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const closed = new Promise((resolve) => child.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^url (\S+)$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('close', (code) => reject(new Error(`pg-serve exited (${code}) before listening: ${out}`)));
  });
  return {
    url: (schema) => withSchema(url, schema),
    stop: async () => {
      child.kill('SIGTERM');
      await closed;
    },
  };
}

/**
 * A server for the enclosing describe block (or file): started before its tests, stopped after them.
 * The returned object's `url` works once the tests run.
 */
export function usePgServer(startTimeoutMs = 120_000): Pick<PgServer, 'url'> {
  let server: PgServer | undefined;
  beforeAll(async () => {
    server = await startPgServer();
  }, startTimeoutMs);
  afterAll(async () => server?.stop());
  return { url: (schema) => server!.url(schema) };
}

/**
 * usePgServer, plus a client of the test's own on the server: another terminal that damages a schema by
 * hand or watches what facectl wrote. Both are closed after the block's own afterAll hooks.
 */
export function usePgServerAndClient(startTimeoutMs = 120_000): Pick<PgServer, 'url'> & { side: () => pg.Client } {
  let server: PgServer | undefined;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    server = await startPgServer();
    client = clientFor(parsePgUrl(server.url('x')));
    await client.connect();
  }, startTimeoutMs);
  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });
  return { url: (schema) => server!.url(schema), side: () => client! };
}
