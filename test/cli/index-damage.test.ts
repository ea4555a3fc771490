/**
 * The saved search index is a cache: whatever is found at index.flat / index.hnsw, a login answers, through
 * the real CLI. A damaged header that is still valid JSON is rebuilt over; a directory or a FIFO there is
 * never opened (a FIFO would block forever) nor deleted: the commands that must delete or replace it
 * (enroll's stale-index drop, index rebuild) stop with one STORE_ERROR line naming it.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { FilesGallery } from '../../src/gallery/files.js';
import { loadIndex } from '../../src/index/factory.js';
import { runCli } from '../helpers/cli.js';
import { renameKey, rewriteIndexHeader } from '../helpers/index-files.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';
import { storeCopier } from '../helpers/store-checks.js';

const ex = (p: string) => dataset('face-recognition-examples', p);

describe.skipIf(!hasDatasets)(`the saved index is a cache${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-index-damage-'));
  const base = path.join(tmp, 'base-store');
  const envFor = (store: string) => ({ FACECTL_STORE: store, FACECTL_CACHE_DIR: path.join(tmp, 'cache'), FACECTL_USER_MODELS_DIR: path.join(tmp, 'models') });
  const withStore = storeCopier(tmp, base, envFor);
  /** login --json with obama1.jpg: exit code, decision, id and the index it used. */
  const login = (cli: (...argv: string[]) => { code: number; stdout: string; stderr: string }, ...extra: string[]) => {
    const r = cli('login', ex('barack_obama/obama1.jpg'), '--json', ...extra);
    return parsed(r);
  };
  const parsed = (r: { code: number; stdout: string; stderr: string }) => {
    const j = r.stdout ? JSON.parse(r.stdout) : null;
    return { code: r.code, stderr: r.stderr, decision: j?.faces?.[0]?.decision, id: j?.faces?.[0]?.id, index: j?.index };
  };

  beforeAll(() => {
    const r = runCli(['enroll', 'obama', ex('barack_obama/obama.jpg')], envFor(base));
    expect(r.code, r.stderr).toBe(0);
  });

  const damage: ['flat' | 'hnsw', string, (h: Record<string, unknown>) => unknown][] = [
    ['flat', '"params" renamed', (h) => renameKey(h, 'params', 'qarams')],
    ['hnsw', 'header null', () => null],
    ['flat', '"params": null', (h) => ({ ...h, params: null })],
    ['flat', 'negative labelsBytes', (h) => ({ ...h, labelsBytes: -5, payloadBytes: (h.payloadBytes as number) + (h.labelsBytes as number) + 5 })],
    ['hnsw', 'companion without its file name', (h) => ({ ...h, companion: renameKey(h.companion as Record<string, unknown>, 'file', 'gile') })],
  ];
  for (const [kind, name, edit] of damage) {
    it(`a damaged index header (${kind}, ${name}): login rebuilds the index and answers (exit 0)`, async () => {
      const { store, cli } = withStore(`header-${kind}-${name.replace(/\W+/g, '-')}`);
      const file = (await FilesGallery.open(store).rebuildIndex(kind)).where;
      rewriteIndexHeader(file, edit);
      const r = login(cli, '--index', kind);
      expect(r.code, r.stderr).toBe(ExitCode.OK);
      expect([r.decision, r.id, r.index]).toEqual(['ACCEPT', 'obama', { kind, origin: 'built' }]);
      expect(loadIndex(file).size).toBe(1); // saved again, whole
    });
  }

  /** A FIFO at `file` (mkfifo); false where the platform has none. */
  const mkfifo = (file: string) => spawnSync('mkfifo', [file]).status === 0;
  const canMkfifo = (() => {
    const probe = path.join(tmp, 'probe.fifo');
    const ok = mkfifo(probe);
    rmSync(probe, { force: true });
    return ok;
  })();
  /** The CLI with a time limit: a command blocked on a FIFO is killed (code -1) instead of hanging the test. */
  const within60s = (store: string, ...argv: string[]) => runCli(argv, envFor(store), undefined, 60_000);
  const expectStoreErrorNaming = (r: { code: number; stderr: string }, file: string, what: RegExp) => {
    expect(r.code, r.stderr).toBe(ExitCode.STORE_ERROR);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain(file);
    expect(lines[0]).toMatch(what);
    expect(lines[0]).not.toMatch(/internal error/);
  };

  const obstacles: [string, RegExp, (file: string) => boolean][] = [
    ['a directory', /a directory/, (file) => (mkdirSync(file), writeFileSync(path.join(file, 'keep'), 'x'), true)],
    ['a FIFO', /a FIFO/, mkfifo],
  ];
  for (const [name, what, make] of obstacles) {
    it.skipIf(name === 'a FIFO' && !canMkfifo)(`${name} at index.flat and index.hnsw: login answers; enroll and index rebuild stop with STORE_ERROR naming it; it stays`, () => {
      const { store } = withStore(`obstacle-${name.replace(/\W+/g, '-')}`);
      const files = ['index.flat', 'index.hnsw'].map((f) => path.join(store, f));
      for (const file of files) expect(make(file)).toBe(true);
      for (const kind of ['auto', 'flat', 'hnsw']) {
        const r = parsed(within60s(store, 'login', ex('barack_obama/obama1.jpg'), '--json', '--index', kind));
        expect(r.code, `${kind}: ${r.stderr}`).toBe(ExitCode.OK);
        expect([r.decision, r.id, r.index?.origin], kind).toEqual(['ACCEPT', 'obama', 'built']);
      }
      expectStoreErrorNaming(within60s(store, 'enroll', 'biden', ex('joe_biden/biden.jpg')), files[0]!, what);
      expectStoreErrorNaming(within60s(store, 'index', 'rebuild'), files[0]!, what);
      rmSync(files[0]!, { recursive: true });
      expectStoreErrorNaming(within60s(store, 'index', 'rebuild', '--index', 'flat'), files[1]!, what);
      expect(lstatSync(files[1]!).isFile()).toBe(false);
    });
  }

  it.skipIf(!canMkfifo)('a FIFO where the HNSW graph belongs, beside a current header: login answers', async () => {
    const { store } = withStore('fifo-graph');
    const file = (await FilesGallery.open(store).rebuildIndex('hnsw')).where;
    rmSync(`${file}.usearch`);
    expect(mkfifo(`${file}.usearch`)).toBe(true);
    for (const kind of ['auto', 'hnsw']) {
      const r = parsed(within60s(store, 'login', ex('barack_obama/obama1.jpg'), '--json', '--index', kind));
      expect(r.code, `${kind}: ${r.stderr}`).toBe(ExitCode.OK);
      expect([r.decision, r.id, r.index], kind).toEqual(['ACCEPT', 'obama', { kind: 'hnsw', origin: 'built' }]);
    }
  });
});
