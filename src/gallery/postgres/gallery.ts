/**
 * PostgreSQL + pgvector behind the Gallery interface: one schema per gallery (`?schema=`, default
 * "facectl"), one connection per command. Every change is one transaction holding the gallery's
 * advisory lock, so concurrent writers from many terminals serialise and a writer killed mid-change
 * loses nothing (the server rolls its transaction back). Reads take no lock.
 */
import type pg from 'pg';
import { errorLine, ExitCode, FacectlError } from '../../errors.js';
import { chooseKind } from '../../index/factory.js';
import { dot } from '../../pipeline/vector.js';
import { topCandidates } from '../rank.js';
import type {
  CheckReport, FaceRow, Gallery, GalleryDraft, GalleryExport, GalleryInfo, IdentityFaces, IdentitySummary, IndexChoice, MutateOptions,
  RepairOptions, SearchResult,
} from '../types.js';
import { connect, longQuery, parsePgUrl, type PgTarget } from './connection.js';
import { PgDraft, pgTestHooks } from './draft.js';
import { checkGallery } from './check.js';
import { type Meta, parseMeta } from './meta.js';
import { damagedFaceLine, damagedFacesError, storedVector, vectorProblem, type DamagedFace } from './damage.js';
import { FACE_COLUMNS, faceRowOf, HNSW_INDEX, migrate, newerSchema, parseVector, q, SCHEMA_VERSION, schemaVersion, vectorText } from './schema.js';

/** Advisory lock class for facectl galleries ('face'); the object id is hashtext(schema). */
const LOCK_CLASS = 0x66616365;
/** HNSW candidate list at query time: recall 1.0 at 1e5 identities in bench:gallery. */
export const HNSW_EF_SEARCH = 400;
/**
 * Isolation pinned, whatever the server's or database's default: a read is one snapshot (repeatable read);
 * a writer reads committed, so that after waiting for the advisory lock each statement sees what the
 * writer before it committed (a snapshot taken at its first statement, before the lock, would not).
 */
const BEGIN_READ = 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY';
const BEGIN_WRITE = 'BEGIN ISOLATION LEVEL READ COMMITTED';
/** pgvector's HNSW indexes a vector column of at most this many dimensions (SQL error 54000 above). */
const HNSW_MAX_DIM = 2000;

/** The kind to search with, and why the exact scan stands in for HNSW when the model is too wide for it. */
function searchKind(dim: number, identities: number, choice: IndexChoice): { kind: 'flat' | 'hnsw'; tooWide?: string } {
  const kind = chooseKind(dim, identities, choice);
  if (kind === 'hnsw' && dim > HNSW_MAX_DIM) return { kind: 'flat', tooWide: `pgvector's HNSW indexes at most ${HNSW_MAX_DIM} dimensions, this model has ${dim}` };
  return { kind };
}

/**
 * The driver's error when the connection is gone as DB_UNREACHABLE: no answer within query_timeout, a
 * socket error (E…), SQLSTATE class 08 or 57P (server shutting down), node-postgres's own "terminated" /
 * "not queryable"; else null.
 */
function lostConnection(err: unknown, target: PgTarget): FacectlError | null {
  if (!(err instanceof Error) || err instanceof FacectlError) return null;
  const code = (err as { code?: unknown }).code;
  const msg = errorLine(err);
  if (msg === 'Query read timeout' && code === undefined)
    return new FacectlError(ExitCode.DB_UNREACHABLE, `no answer from PostgreSQL at ${target.shown} within ${Number(target.config.query_timeout) / 1000} s (query_timeout): the network or the server stopped responding`);
  if (typeof code === 'string' ? /^(E[A-Z]+$|08|57P)/.test(code) : /^Connection terminated|is not queryable$/.test(msg))
    return new FacectlError(ExitCode.DB_UNREACHABLE, `lost the connection to PostgreSQL at ${target.shown} (${msg})`);
  return null;
}

/**
 * Errors of the driver as one line: lost connection → DB_UNREACHABLE, a statement the server refused
 * (a SQLSTATE) → STORE_ERROR. Anything else is facectl's own (a bug: exit 1) and stays as it is.
 */
function pgError(err: unknown, target: PgTarget): unknown {
  const lost = lostConnection(err, target);
  if (lost) return lost;
  const code = (err as { code?: unknown })?.code;
  if (err instanceof FacectlError || typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return err;
  return new FacectlError(ExitCode.STORE_ERROR, `PostgreSQL error ${code}: ${errorLine(err)}`);
}

export class PostgresGallery implements Gallery {
  readonly backend = 'postgres' as const;
  readonly location: string;
  /** Dimension and identity count for choosing the search kind, read once until this gallery writes. */
  private sizes?: { dim: number; identities: number };
  private hnswSeen = false;
  /** Set once the connection is gone: later calls fail at once with it instead of queueing behind a hung statement. */
  private lost?: FacectlError;
  private closing?: Promise<void>;

  private constructor(
    private readonly c: pg.Client,
    private readonly target: PgTarget,
    private version: number,
  ) {
    this.location = target.shown;
  }

  static open(url: string, options: { mustExist?: boolean } = {}): Promise<PostgresGallery> {
    return PostgresGallery.openTarget(parsePgUrl(url), options);
  }

  private static async openTarget(target: PgTarget, options: { mustExist?: boolean }): Promise<PostgresGallery> {
    const client = await connect(target);
    try {
      await client.query(BEGIN_READ);
      const version = await schemaVersion(client, target.schema);
      await client.query('COMMIT');
      if (version > SCHEMA_VERSION) throw newerSchema(target.schema, version);
      if (options.mustExist && version === 0)
        throw new FacectlError(ExitCode.NOT_FOUND, `no facectl gallery in schema "${target.schema}" at ${target.shown}: enroll someone first`);
      return new PostgresGallery(client, target, version);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw pgError(err, target);
    }
  }

  /** A new connection with the URL this gallery was opened with: `location` has its password masked. */
  reopen(options: { mustExist?: boolean } = {}): Promise<PostgresGallery> {
    return PostgresGallery.openTarget(this.target, options);
  }

  private get s(): string {
    return this.target.schema;
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.lost) throw this.lost;
    try {
      return await fn();
    } catch (err) {
      const e = pgError(err, this.target);
      if (e instanceof FacectlError && e.code === ExitCode.DB_UNREACHABLE) {
        this.lost = e;
        void this.close();
      }
      throw e;
    }
  }

  /** fn inside one transaction opened by `begin`: committed when fn returns, rolled back when it throws. */
  private async transaction<T>(begin: string, fn: () => Promise<T>): Promise<T> {
    return this.run(async () => {
      await this.c.query(begin);
      let out: T;
      try {
        out = await fn();
      } catch (err) {
        // Over a lost connection the server rolls back itself; a ROLLBACK would wait out query_timeout again.
        if (!lostConnection(err, this.target)) await this.c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      try {
        await this.c.query('COMMIT');
      } catch (err) {
        // The server may have committed before the connection went: saying it failed would have the user
        // repeat it (a second remove: "unknown id").
        const lost = lostConnection(err, this.target);
        if (lost && begin !== BEGIN_READ) throw new FacectlError(ExitCode.DB_UNREACHABLE, `${lost.message}; the change may or may not have been committed: check with \`facectl list\``);
        throw err;
      }
      return out;
    });
  }

  /**
   * Reads run in a read-only transaction: one consistent snapshot per call, and PGlite's socket server
   * (one session shared by all connections) keeps a transaction's messages together, where the
   * extended-protocol messages of two connections outside transactions would interleave.
   */
  private read<T>(fn: () => Promise<T>): Promise<T> {
    return this.transaction(BEGIN_READ, fn);
  }

  private async meta(): Promise<Meta> {
    const r = await this.c.query(`SELECT key, value FROM ${q(this.s, 'meta')}`);
    return parseMeta(this.s, r.rows);
  }

  async info(): Promise<GalleryInfo> {
    const base: GalleryInfo = { backend: this.backend, location: this.location, model: null, threshold: null, identities: 0, faces: 0, generation: 0, details: { schema: this.s, 'schema version': this.version || null } };
    if (!this.version) return base;
    return this.read(async () => {
      const meta = await this.meta();
      const counts = (await this.c.query(`SELECT (SELECT count(*) FROM ${q(this.s, 'faces')}) AS faces, (SELECT count(*) FROM ${q(this.s, 'identities')}) AS ids`)).rows[0];
      const hnsw = (await this.c.query(`SELECT to_regclass($1) AS i`, [`"${this.s}".${HNSW_INDEX}`])).rows[0].i;
      const server = (await this.c.query(`SELECT current_setting('server_version') AS v, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgv`)).rows[0];
      return {
        ...base,
        model: meta.model,
        threshold: meta.threshold,
        faces: Number(counts.faces),
        identities: Number(counts.ids),
        generation: meta.generation,
        details: { ...base.details, 'search index': hnsw ? `hnsw (${HNSW_INDEX})` : 'none (exact scan)', server: `PostgreSQL ${server.v}, pgvector ${server.pgv}` },
      };
    });
  }

  /**
   * The generation with the random token its commit wrote (Gallery.committedState); '' when there is no
   * gallery, also one dropped since this connection opened it (DROP SCHEMA … CASCADE from another
   * terminal), so that a service reopens and finds it gone (exit 14, as a store directory removed does)
   * instead of failing every request on the missing table.
   */
  async committedState(): Promise<string> {
    if (!this.version) return '';
    return this.read(async () => {
      if (!(await this.c.query(`SELECT to_regclass($1) AS m`, [q(this.s, 'meta')])).rows[0].m) return '';
      const meta = await this.meta();
      return `${meta.generation} ${meta.commit ?? ''}`;
    });
  }

  async identities(): Promise<IdentitySummary[]> {
    if (!this.version) return [];
    const r = await this.read(() => this.c.query(`SELECT id, name, face_count, last_added FROM ${q(this.s, 'identities')} ORDER BY first_seq`));
    return r.rows.map((x) => ({ id: x.id, name: x.name, faceCount: Number(x.face_count), lastAdded: x.last_added }));
  }

  async rows(): Promise<readonly FaceRow[]> {
    if (!this.version) return [];
    return (await this.read(() => this.c.query(`SELECT ${FACE_COLUMNS} FROM ${q(this.s, 'faces')} ORDER BY seq`))).rows.map(faceRowOf);
  }

  async facesOf(id: string): Promise<IdentityFaces> {
    if (!this.version) return { rows: [], embeddings: [] };
    return this.read(async () => {
      const dim = (await this.meta()).model?.dimension;
      const r = await this.c.query(`SELECT ${FACE_COLUMNS}, embedding::text AS e FROM ${q(this.s, 'faces')} WHERE id = $1 ORDER BY seq`, [id]);
      return { rows: r.rows.map(faceRowOf), embeddings: r.rows.map((x) => storedVector(this.s, x, dim)) };
    });
  }

  private async hasHnsw(): Promise<boolean> {
    return !!(await this.c.query(`SELECT to_regclass($1) AS i`, [`"${this.s}".${HNSW_INDEX}`])).rows[0].i;
  }

  async search(queries: Float32Array, k: number, choice: IndexChoice): Promise<SearchResult> {
    if (!this.sizes) {
      const info = await this.info();
      this.sizes = { dim: info.model?.dimension ?? 0, identities: info.identities };
    }
    const { dim } = this.sizes;
    const { kind, tooWide } = searchKind(dim, this.sizes.identities, choice);
    let origin = tooWide ? `exact scan: ${tooWide}` : 'exact scan';
    if (kind === 'hnsw') {
      origin = (this.hnswSeen ||= await this.read(() => this.hasHnsw())) ? 'loaded' : 'built';
      if (origin === 'built') await this.createHnsw();
      this.hnswSeen = true;
    }
    const hits = await this.read(async () => {
      const out: SearchResult['hits'] = [];
      if (kind === 'flat') await this.c.query(`SELECT set_config('enable_indexscan', 'off', true)`);
      else await this.c.query(`SELECT set_config('hnsw.ef_search', $1, true)`, [String(Math.max(HNSW_EF_SEARCH, k))]);
      // An exact scan can also order ties; HNSW's index scan cannot take a second key (re-sorted below).
      const tieOrder = kind === 'flat' ? ', first_seq' : '';
      for (let i = 0; dim && i * dim < queries.length; i++) {
        const query = queries.subarray(i * dim, (i + 1) * dim);
        // pgvector orders in float32; a few spare candidates, re-scored in float64 like every other score.
        // Equal scores go to the identity enrolled first, as in a store directory (first_seq: its first face).
        const candidates = (order: string) =>
          this.c.query(`SELECT id, name, mean::text AS m, first_seq, mean <#> $1::vector AS d FROM ${q(this.s, 'identities')} ORDER BY mean <#> $1::vector${order} LIMIT $2`, [vectorText(query), k + 4]);
        let r = await candidates(tieOrder);
        // HNSW returns equal distances in no set order: when the last candidate ties the k-th, more identities
        // may tie beyond it, the first enrolled among them; an exact scan ordered by first_seq finds it (rare:
        // exact ties are identical identity vectors).
        if (kind === 'hnsw' && k > 0 && r.rows.length === k + 4 && r.rows[k + 3].d === r.rows[k - 1].d) {
          await this.c.query(`SELECT set_config('enable_indexscan', 'off', true)`);
          r = await candidates(', first_seq');
          await this.c.query(`SELECT set_config('enable_indexscan', 'on', true)`);
        }
        const scored = r.rows.map((x) => ({ candidate: { id: x.id as string, name: x.name as string, score: dot(query, parseVector(x.m)) }, enrolled: Number(x.first_seq) }));
        out.push(topCandidates(scored, k));
      }
      return out;
    });
    return { hits, index: { kind, origin } };
  }

  private createHnsw(): Promise<void> {
    return this.transaction(BEGIN_WRITE, async () => {
      // Another process (a login, an index rebuild) may be building it: wait for it, then build only if still missing.
      await this.lock();
      if (await this.hasHnsw()) return;
      await this.buildHnsw();
    });
  }

  /** The gallery's advisory lock for the current transaction: the writers' lock, also taken around index builds. */
  private async lock(): Promise<void> {
    await this.c.query(longQuery('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, this.s]));
  }

  /**
   * Builds the HNSW index, inside a transaction holding the gallery's lock. pgvector builds HNSW fast only
   * while the graph fits in maintenance_work_mem (64 MB by default); past that it goes on page by page,
   * several times slower. The build raises the setting for its own transaction to what the graph needs
   * (never lowers one the server's owner set higher, at most 1 GB).
   */
  private async buildHnsw(): Promise<void> {
    const { rows } = await this.c.query(`SELECT count(*)::bigint AS n, max(vector_dims(mean)) AS d FROM ${q(this.s, 'identities')}`);
    const wantKb = hnswBuildMemoryKb(Number(rows[0]?.n ?? 0), Number(rows[0]?.d ?? 0));
    await this.c.query(
      `SELECT set_config('maintenance_work_mem', $1, true) WHERE (SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem') < $2`,
      [`${wantKb}kB`, wantKb],
    );
    await this.c.query(longQuery(`CREATE INDEX IF NOT EXISTS ${HNSW_INDEX} ON ${q(this.s, 'identities')} USING hnsw (mean vector_ip_ops)`));
  }

  async mutate<T>(change: (draft: GalleryDraft) => Promise<T>, options: MutateOptions = {}): Promise<{ result: T; committed: boolean }> {
    const out = await this.transaction(BEGIN_WRITE, async () => {
      await this.lock();
      const version = await schemaVersion(this.c, this.s);
      if (version === 0 && options.create === false)
        throw new FacectlError(ExitCode.NOT_FOUND, `no facectl gallery in schema "${this.s}" at ${this.location}: enroll someone first`);
      await migrate(this.c, this.s);
      const meta = await this.meta();
      if (options.expectGeneration !== undefined && meta.generation !== options.expectGeneration)
        throw new FacectlError(ExitCode.STORE_ERROR, `store changed while this command ran (generation ${options.expectGeneration} → ${meta.generation}): run it again`);
      const draft = new PgDraft(this.c, this.s, meta.model, meta.threshold, new Date());
      const result = await change(draft);
      await draft.finish(meta.generation);
      await pgTestHooks.onStep?.('before-commit');
      return { result, committed: draft.changed };
    });
    this.version = SCHEMA_VERSION;
    this.sizes = undefined;
    return out;
  }

  async exportAll(): Promise<GalleryExport> {
    if (!this.version) return { model: null, threshold: null, rows: [], embeddings: new Float32Array(0) };
    return this.read(async () => {
      const meta = await this.meta();
      const r = await this.c.query(`SELECT ${FACE_COLUMNS}, embedding::text AS e FROM ${q(this.s, 'faces')} ORDER BY seq`);
      const dim = meta.model?.dimension ?? 0;
      const embeddings = new Float32Array(r.rows.length * dim);
      r.rows.forEach((x, i) => embeddings.set(storedVector(this.s, x, dim), i * dim));
      return { model: meta.model, threshold: meta.threshold, rows: r.rows.map(faceRowOf), embeddings };
    });
  }

  async check(): Promise<CheckReport> {
    if (!this.version) return { ok: false, problems: [`no facectl gallery in schema "${this.s}"`], notes: [] };
    return this.read(async () => checkGallery(this.c, this.s, await this.meta()));
  }

  /**
   * Identity rows are recomputed from the faces, the truth. A face whose stored embedding cannot be used
   * (NULL, another length than the model's, zero: see damage.ts) refuses the repair, naming it, unless
   * `dropDamaged` drops it or `reembed` re-embeds every face (computed before the writer's transaction,
   * committed only if nothing changed meanwhile), as a store directory's lost embeddings do; a finite
   * embedding whose norm is not 1 is re-normalised.
   */
  async repair(options: RepairOptions = {}): Promise<string[]> {
    const report = await this.check();
    if (report.ok) return [];
    const { damaged, rows, generation, dim } = await this.read(async () => {
      const meta = await this.meta();
      const dim = meta.model?.dimension;
      const r = await this.c.query(`SELECT ${FACE_COLUMNS}, embedding::text AS e FROM ${q(this.s, 'faces')} ORDER BY seq`);
      const damaged: DamagedFace[] = [];
      for (const f of r.rows) {
        const problem = vectorProblem(f.e, dim);
        if (problem) damaged.push({ seq: Number(f.seq), id: f.id, ...problem });
      }
      return { damaged, rows: r.rows.map(faceRowOf), generation: meta.generation, dim };
    });
    const lost = damaged.filter((d) => !d.renormalise);
    if (lost.length && !options.dropDamaged && !options.reembed) throw damagedFacesError(this.s, lost);
    const reembed = lost.length && !options.dropDamaged ? await options.reembed!(rows) : undefined;
    const actions: string[] = [];
    await this.mutate(
      async (draft) => {
        const d = draft as PgDraft;
        if (reembed) {
          await reembed(draft);
          for (const f of lost) actions.push(`${damagedFaceLine(f)}; re-embedded from its photo`);
        } else {
          if (lost.length) await d.deleteSeqs(lost.map((f) => f.seq));
          for (const f of lost) actions.push(`dropped ${damagedFaceLine(f)}`);
          const skewed = damaged.filter((f) => f.renormalise).map((f) => f.seq);
          if (skewed.length) {
            await d.renormalise(skewed);
            actions.push(`re-normalised ${skewed.length} embedding${skewed.length === 1 ? '' : 's'}`);
          }
          await d.touched(null);
        }
        // A NULL or a vector of another length could be stored only once the column was changed by hand.
        if (lost.some((f) => f.detail.endsWith('NULL'))) await d.requireEmbeddings();
        if (dim !== undefined && d.model?.dimension === dim && lost.some((f) => / values, the model has /.test(f.detail))) await d.retype(dim);
      },
      { create: false, expectGeneration: generation },
    );
    actions.push(`recomputed every identity vector from the faces (found: ${report.problems.length} problem(s))`);
    return actions;
  }

  async rebuildIndex(choice: IndexChoice) {
    return this.run(async () => {
      const t0 = performance.now();
      const info = await this.info();
      const { kind, tooWide } = searchKind(info.model?.dimension ?? 0, info.identities, choice);
      // Dropped and built in one transaction under the gallery's lock: a second rebuild or a login's build waits for it.
      await this.transaction(BEGIN_WRITE, async () => {
        await this.lock();
        await this.c.query(`DROP INDEX IF EXISTS "${this.s}".${HNSW_INDEX}`);
        if (kind === 'hnsw') await this.buildHnsw();
      });
      const where = kind === 'hnsw' ? `${this.s}.${HNSW_INDEX}` : `exact scan of ${this.s}.identities${tooWide ? ` (${tooWide})` : ''}`;
      return { kind, where, identities: info.identities, ms: performance.now() - t0 };
    });
  }

  close(): Promise<void> {
    // Once only: node-postgres's end() waits for an 'end' event that a second call would never see.
    this.closing ??= this.c.end().catch(() => undefined);
    return this.closing;
  }
}

/**
 * maintenance_work_mem (kB) that holds pgvector's in-memory HNSW graph for `rows` vectors of `dim`
 * floats: the vector plus, at m = 16, up to 32 layer-0 neighbour slots and element overhead (~400 B),
 * with a quarter spare; between 64 MB and 1 GB.
 */
export function hnswBuildMemoryKb(rows: number, dim: number): number {
  const bytes = rows * (4 * dim + 400) * 1.25;
  return Math.round(Math.min(1 << 20, Math.max(64 << 10, bytes / 1024)));
}
