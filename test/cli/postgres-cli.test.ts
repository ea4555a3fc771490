/**
 * facectl against `--store postgres://…` end to end, over the real wire protocol (PGlite + pgvector from
 * scripts/pg-serve.ts, or FACECTL_TEST_PG_URL): the commands, 8 concurrent enrolling processes, an
 * enroll SIGKILLed inside its transaction, and an unreachable server. Faces are cut from the sample
 * photos npm ci installs; the toy embedder stands in for a real model (fast, deterministic).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli, spawnHookedCli } from '../helpers/cli.js';
import { startPgServer, uniqueSchema, type PgServer } from '../helpers/pg-server.js';
import { faceCrop, hasSamples, SKIP_NO_SAMPLES } from '../helpers/samples.js';
import { repoRoot } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-pg-cli-'));
let server: PgServer;
const env = { FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models'), FACECTL_CACHE_DIR: path.join(tmp, 'eval-cache') };
const faces: Record<string, string> = {};

/** Small single-face photos (cheap to decode and detect). */
async function smallCrop(which: 'a' | 'b' | 'c'): Promise<string> {
  const file = path.join(tmp, `${which}.jpg`);
  await sharp(await faceCrop(which)).resize(200).jpeg().toFile(file);
  return file;
}

async function facesIn(url: string): Promise<number> {
  const g = await PostgresGallery.open(url);
  try {
    const check = await g.check();
    expect(check.problems).toEqual([]);
    return (await g.info()).faces;
  } finally {
    await g.close();
  }
}

describe.skipIf(!hasSamples)(`facectl --store postgres://${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  beforeAll(async () => {
    server = await startPgServer();
    for (const w of ['a', 'b', 'c'] as const) faces[w] = await smallCrop(w);
    const model = path.join(tmp, 'toy.onnx');
    writeFileSync(model, buildToyEmbedderOnnx({ inputSize: 112, dim: 64 }));
    expect(runCli(['models', 'add', model, '--id', 'toy'], env).code).toBe(0);
  }, 180_000);
  afterAll(async () => server?.stop());

  it('enroll, list, info, login, remove', () => {
    const store = server.url(uniqueSchema());
    const cli = (...argv: string[]) => runCli([...argv, '--store', store], env);
    let r = cli('enroll', 'alice', faces.a!, '--model', 'toy', '--name', 'Alice A');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/enrolled alice \(Alice A\): 1 face\(s\) added → postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?schema=t_/);
    expect(cli('enroll', 'bob', faces.b!, '--force').code).toBe(0);
    const list = JSON.parse(cli('list', '--json').stdout);
    expect(list.identities.map((i: { id: string; faces: number }) => [i.id, i.faces])).toEqual([['alice', 1], ['bob', 1]]);
    const info = JSON.parse(cli('info', '--json').stdout);
    expect(info).toMatchObject({ backend: 'postgres', identities: 2, faces: 2, model: { id: 'toy', dimension: 64 }, threshold: { value: 0.4, source: 'model default' } });
    r = cli('login', faces.a!, '--json');
    expect(r.code, r.stderr).toBe(0);
    const login = JSON.parse(r.stdout);
    expect([login.faces[0].decision, login.faces[0].id, login.faces[0].enrolledPhotos]).toEqual(['ACCEPT', 'alice', [faces.a]]);
    expect(login.faces[0].score).toBeCloseTo(1, 5);
    r = cli('index', 'rebuild', '--index', 'hnsw', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ verify: { ok: true }, repairs: [], index: { kind: 'hnsw', identities: 2 } });
    expect(JSON.parse(cli('login', faces.a!, '--index', 'hnsw', '--json').stdout).index).toEqual({ kind: 'hnsw', origin: 'loaded' });
    // A face and its embedding are one table row: nothing can lose its embedding, --drop-damaged drops nothing.
    r = cli('index', 'rebuild', '--drop-damaged', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ verify: { ok: true }, repairs: [], dropped: [], index: { identities: 2 } });
    expect(cli('remove', 'bob').code).toBe(0);
    expect(cli('remove', 'bob').code).toBe(ExitCode.UNKNOWN_ID);
    expect(JSON.parse(cli('list', '--json').stdout).total).toBe(1);
    expect(runCli(['list', '--store', server.url(uniqueSchema())], env).code).toBe(ExitCode.NOT_FOUND);
  }, 120_000);

  it('an unreachable database: exit 15 and one line', () => {
    const r = runCli(['list', '--store', 'postgres://facectl:pw@127.0.0.1:1/none']);
    expect(r.code).toBe(ExitCode.DB_UNREACHABLE);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^facectl: cannot connect to PostgreSQL at postgres:\/\/facectl:\*\*\*@127\.0\.0\.1:1\/none \(ECONNREFUSED/)]);
  });

  it('8 concurrent processes × 25 enrollments against one database: all 200 faces are there', async () => {
    const store = server.url(uniqueSchema());
    // One process per worker running `facectl enroll` 25 times in-process (8 start-ups, not 200).
    const worker = path.join(tmp, 'worker.mts');
    writeFileSync(
      worker,
      `import { main } from ${JSON.stringify(path.join(repoRoot, 'src/cli/main.ts'))};\n` +
        `const w = Number(process.argv[2]); const photos = ${JSON.stringify(Object.values(faces))};\n` +
        `for (let k = 0; k < 25; k++) {\n` +
        `  await main(['node', 'facectl', 'enroll', \`w\${w}-\${k}\`, photos[(w + k) % 3], '--model', 'toy', '--force', '-q']);\n` +
        `  if (process.exitCode) { console.error('enroll failed', w, k, process.exitCode); process.exit(1); }\n` +
        `}\n`,
    );
    const runs = Array.from({ length: 8 }, (_, w) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', worker, String(w)], { cwd: repoRoot, env: { ...process.env, ...env, FACECTL_STORE: store }, stdio: ['ignore', 'ignore', 'inherit'] });
        child.on('close', (code) => resolve(code ?? -1));
      }),
    );
    expect(await Promise.all(runs)).toEqual(new Array(8).fill(0));
    expect(await facesIn(store)).toBe(200);
  }, 300_000);

  it('an enroll SIGKILLed inside its transaction leaves the old state; the next enroll works', async () => {
    const store = server.url(uniqueSchema());
    expect(runCli(['enroll', 'base', faces.a!, '--model', 'toy', '--store', store], env).code).toBe(0);
    for (const step of ['faces-inserted', 'before-commit']) {
      const run = spawnHookedCli(['enroll', `k-${step}`, faces.b!, faces.c!, '--force', '--store', store], env, step, 'cli-pg-hooked-entry.ts');
      const end = await run.closed;
      expect([end.signal, run.steps().at(-1)], run.stderr()).toEqual(['SIGKILL', step]);
      expect(await facesIn(store)).toBe(1);
    }
    const after = spawnHookedCli(['enroll', 'after', faces.b!, faces.c!, '--force', '--store', store], env, '', 'cli-pg-hooked-entry.ts');
    expect((await after.closed).code, after.stderr()).toBe(0);
    expect(after.steps()).toEqual(['faces-inserted', 'before-commit']);
    expect(await facesIn(store)).toBe(3);
  }, 120_000);

  it('eval --calibrate into a database whose URL holds a password: the report records the command without it', async () => {
    const ds = path.join(tmp, 'dataset');
    for (const [i, w] of (['a', 'b', 'c'] as const).entries()) {
      mkdirSync(path.join(ds, `p${i}`), { recursive: true });
      await sharp(faces[w]!).toFile(path.join(ds, `p${i}`, '1.jpg'));
      await sharp(faces[w]!).flop().toFile(path.join(ds, `p${i}`, '2.jpg'));
    }
    const store = server.url(uniqueSchema()).replace('postgres://postgres@', 'postgres://postgres:S3cretPW@'); // PGlite takes any password
    expect(store).toContain('S3cretPW');
    const reports = path.join(tmp, 'reports');
    const r = runCli(['eval', '--dataset', ds, '--model', 'toy', '--calibrate', '--target-fpr', '0.5', `--store=${store}`, '--reports', reports, '--no-charts', '-q'], env);
    expect(r.code, r.stderr).toBe(0);
    const [report] = readdirSync(reports);
    const written = readdirSync(path.join(reports, report!)).map((f) => readFileSync(path.join(reports, report!, f), 'utf8'));
    expect(written.length).toBeGreaterThan(1);
    for (const text of written) expect(text).not.toContain('S3cretPW');
    expect(JSON.parse(readFileSync(path.join(reports, report!, 'metrics.json'), 'utf8')).command).toMatch(/--store=postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres\?schema=t_/);
  }, 120_000);
});
