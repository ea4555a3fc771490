/**
 * npm run pg:serve [-- --port 5433] [--data ./pgdata] [--no-vector]
 * PostgreSQL on this machine without installing a server: PGlite (PostgreSQL compiled to WebAssembly)
 * with pgvector, served over the PostgreSQL wire protocol on 127.0.0.1, for trying
 * `facectl --store postgres://postgres@127.0.0.1:5433/postgres` and for the tests. In memory unless
 * --data names a directory. One process serialises all queries: a real server is faster under load.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('port') ?? 5433);
const dataDir = arg('data');
const withVector = !process.argv.includes('--no-vector');
const extensions: Record<string, typeof vector> = withVector ? { vector } : {};

const db = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions });
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 64 });
await server.start();
const bound = (server as unknown as { port: number }).port;
const { rows } = await db.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
process.stdout.write(
  `PGlite ${rows[0]!.v}${dataDir ? ` (data in ${dataDir})` : ' (in memory)'}${withVector ? ' with pgvector' : ' without pgvector'} listening\n` +
    `url postgres://postgres@127.0.0.1:${bound}/postgres\n`,
);
const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
