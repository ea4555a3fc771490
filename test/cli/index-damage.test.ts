/**
 * The saved search index is a cache: whatever is found at index.flat / index.hnsw, a login answers. A damaged
 * header that is still valid JSON is rebuilt over, through the real CLI.
 */
import { mkdtempSync } from 'node:fs';
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
});
