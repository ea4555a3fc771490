/**
 * Connecting to PostgreSQL with exactly what the user typed. node-postgres fills anything missing from
 * PG* environment variables and ~/.pgpass; facectl does not: the connection string is the whole
 * configuration (user, password, host, port, database, sslmode, schema), so no other secret or server
 * is ever used by accident.
 */
import os from 'node:os';
import pg from 'pg';
import { ExitCode, FacectlError } from '../../errors.js';
import { redact } from '../../redact-url.js';

export interface PgTarget {
  config: pg.ClientConfig;
  /** The gallery's schema (`?schema=`, default "facectl"). */
  schema: string;
  /** The URL without its password, for messages and `info`. */
  shown: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const KNOWN_PARAMS = new Set(['schema', 'sslmode', 'connect_timeout', 'query_timeout']);
/** Node's timers hold at most 2^31 − 1 ms: a longer one fires after 1 ms (with a TimeoutOverflowWarning). */
const MAX_TIMEOUT_S = 2147483;
/**
 * No answer to a statement within this is exit 15: far above any single statement facectl sends in normal
 * use (an exact scan of 1e6 identities took 7 s); the ones that may rightly take longer are longQuery's.
 */
export const DEFAULT_QUERY_TIMEOUT_S = 300;
/** Idle seconds before TCP keepalive probes a connection (the OS's probe interval and count follow). */
const KEEPALIVE_IDLE_MS = 10_000;

function usage(message: string): never {
  throw new FacectlError(ExitCode.USAGE, message);
}

/** `?key=` seconds: above 0, and no more than a Node timer holds. */
function seconds(u: URL, key: string, fallback: number): number {
  const raw = u.searchParams.get(key);
  const value = raw === null ? fallback : Number(raw);
  if (!(value > 0 && value <= MAX_TIMEOUT_S)) usage(`${key} must be a number of seconds above 0 and at most ${MAX_TIMEOUT_S}, got "${raw}"`);
  return value;
}

/**
 * node-postgres's `ssl` for an sslmode, as libpq means it. The verifying modes say rejectUnauthorized
 * explicitly: left out (`ssl: true`), Node takes it from NODE_TLS_REJECT_UNAUTHORIZED, and `=0` there
 * would have facectl send its password to any server. verify-ca checks the chain but not the host name.
 * A private CA: NODE_EXTRA_CA_CERTS.
 */
export function sslOptions(sslmode: string): pg.ClientConfig['ssl'] {
  switch (sslmode) {
    case 'disable':
      return false;
    case 'require':
    case 'no-verify':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true };
    default:
      return usage(`unsupported sslmode "${sslmode}" (disable, require, verify-ca, verify-full)`);
  }
}

/** Parses `postgres://user[:password]@host[:port]/database[?schema=name&sslmode=…]`. */
export function parsePgUrl(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return usage(`not a valid PostgreSQL URL: ${redact(url)}`);
  }
  for (const key of u.searchParams.keys()) if (!KNOWN_PARAMS.has(key)) usage(`unsupported parameter "${key}" in the store URL (known: ${[...KNOWN_PARAMS].join(', ')})`);
  const schema = u.searchParams.get('schema') ?? 'facectl';
  if (!SCHEMA_NAME.test(schema)) usage(`schema name must be 1-63 of a-z 0-9 _ (not starting with a digit), got "${schema}"`);
  // CREATE SCHEMA refuses a new pg_* name (42939); pg_catalog and information_schema would put the tables among the catalogs.
  if (/^pg_/.test(schema) || schema === 'information_schema') usage(`schema "${schema}" is reserved by PostgreSQL (pg_* and information_schema): choose another ?schema=`);
  const ssl = sslOptions(u.searchParams.get('sslmode') ?? 'disable');
  const connectTimeout = seconds(u, 'connect_timeout', 10);
  const queryTimeout = seconds(u, 'query_timeout', DEFAULT_QUERY_TIMEOUT_S);
  const database = decodePart(u.pathname.replace(/^\//, ''), 'database name');
  const user = decodePart(u.username, 'user name') || os.userInfo().username;
  const password = decodePart(u.password, 'password');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = u.port ? Number(u.port) : 5432;
  // node-postgres would take port 0 as "unset" and connect to 5432: a server the user did not name.
  if (port === 0) usage('port 0 in the store URL: give the server\'s port (1-65535), or none for 5432');
  const config: pg.ClientConfig = {
    host,
    port,
    user,
    database: database || user,
    // A function, so node-postgres never falls back to PGPASSWORD or ~/.pgpass.
    password: async () => password,
    ssl,
    connectionTimeoutMillis: connectTimeout * 1000,
    // A network that silently stops carrying packets (or a stuck server or proxy) would leave a statement
    // waiting for good: node-postgres gives up after query_timeout, and TCP keepalive notices a dead peer.
    query_timeout: queryTimeout * 1000,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    application_name: 'facectl',
    client_encoding: 'UTF8',
    // No startup `options` (PgBouncer refuses the connection over it: "unsupported startup parameter");
    // PGOPTIONS is hidden from node-postgres with the other PG* variables, and SESSION_SETUP sets search_path.
  };
  return { config, schema, shown: redact(url) };
}

/**
 * A statement that may rightly run for hours without a byte back (an HNSW build, rewriting a vector
 * column, waiting for another writer's lock): exempt from query_timeout; TCP keepalive still watches it.
 */
export const longQuery = (text: string, values?: unknown[]): pg.QueryConfig =>
  ({ text, values, query_timeout: MAX_TIMEOUT_S * 1000 }) as pg.QueryConfig;

/**
 * A %-escaped part of the URL; USAGE (not a crash) for a bad escape such as `%zz`, never showing the part.
 * The startup and password messages end each string at a NUL, so `%00` would reach the server as a
 * malformed packet; user and database names take no other control character either (a password may).
 */
function decodePart(part: string, what: string): string {
  let text: string;
  try {
    text = decodeURIComponent(part);
  } catch {
    return usage(`the store URL's ${what} has a bad %-escape`);
  }
  // eslint-disable-next-line no-control-regex
  if (what === 'password' ? text.includes('\0') : /[\u0000-\u001f\u007f]/.test(text)) usage(`the store URL's ${what} holds a control character (${what === 'password' ? 'NUL' : '%00-%1F or %7F'})`);
  return text;
}

/** A client configured from `target` alone: PG* variables are hidden while node-postgres reads its settings. */
export function clientFor(target: PgTarget): pg.Client {
  const saved: Record<string, string> = {};
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('PG')) {
      saved[key] = process.env[key]!;
      delete process.env[key];
    }
  }
  try {
    return new pg.Client(target.config);
  } finally {
    Object.assign(process.env, saved);
  }
}

/**
 * Session settings whatever the server's, database's or role's defaults: float8 values in full
 * (extra_float_digits 0 rounds a box or quality value to 15 digits, and `store copy` then found its copy
 * differing); and search_path "public" (a role's or database's own search_path cannot change what
 * facectl's unqualified names mean) plus the schema pgvector is installed in (Supabase installs
 * extensions in "extensions"), so that the type vector and its operators resolve. In SQL rather than
 * the startup packet's `options`, which PGlite ignores and PgBouncer refuses.
 */
export const SESSION_SETUP = `SELECT set_config('extra_float_digits', '3', false),
  set_config('search_path', concat_ws(', ', 'public', (
    SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'vector' AND n.nspname <> 'public')), false)`;

/** Connects, or fails with DB_UNREACHABLE and one line saying why. */
export async function connect(target: PgTarget): Promise<pg.Client> {
  const client = clientFor(target);
  // An idle connection that drops (server restart) must not crash the process: the next query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(SESSION_SETUP);
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    const e = err as NodeJS.ErrnoException & { code?: string };
    const why = e.code && /^[A-Z]+$/.test(e.code) ? `${e.code}: ${e.message.split('\n')[0]}` : e.message.split('\n')[0];
    throw new FacectlError(ExitCode.DB_UNREACHABLE, `cannot connect to PostgreSQL at ${target.shown} (${why})`);
  }
}
