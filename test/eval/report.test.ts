import { execFile, spawnSync } from 'node:child_process';
import fs, { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Papa from 'papaparse';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { FolderDataset } from '../../src/eval/datasets.js';
import { renderEvalCharts } from '../../src/eval/eval-charts.js';
import { summarizeFailures, type EvalMetrics } from '../../src/eval/eval-result.js';
import { evaluateIdentification } from '../../src/eval/evaluate-identification.js';
import { evaluateVerification } from '../../src/eval/evaluate-verification.js';
import { calibrateThreshold } from '../../src/eval/operating-point.js';
import { generatePairs } from '../../src/eval/pair-generation.js';
import { formatSummaryTable, prepareReportsFolder, slug, timestampOf, toJson, writeReport } from '../../src/eval/report.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { repoRoot } from '../helpers/shared.js';
import { createRng } from '../../src/eval/rng.js';
import { collectFailures, type EmbeddingResult } from '../../src/eval/scoring.js';
import { makeIdentificationSplit } from '../../src/eval/splits.js';
import { tinyReport } from './fixtures/tiny-report.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'facectl-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 40 synthetic identities x 6 images, 8-d embeddings around per-identity centres, every 23rd image failing. */
function synthetic() {
  const rng = createRng(99);
  const g = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const unit = (v: number[]) => {
    const n = Math.hypot(...v);
    return Float32Array.from(v, (x) => x / n);
  };
  const identities = Array.from({ length: 40 }, (_, i) => ({ name: `person_${i}`, images: Array.from({ length: 6 }, (_, k) => `person_${i}/img, ${k}.jpg`) }));
  const ds: FolderDataset = { root: '/data/synthetic', name: 'synthetic', identities, emptyIdentities: [], ignoredEntries: [], imageCount: 240 };
  const results = new Map<string, EmbeddingResult>();
  let n = 0;
  for (const id of identities) {
    const c = Array.from({ length: 8 }, g);
    for (const img of id.images) {
      results.set(img, ++n % 23 === 0 ? { ok: false, reason: 'no face found' } : { ok: true, embedding: unit(c.map((x) => x + 0.35 * g())) });
    }
  }
  return { ds, results, lookup: (img: string) => results.get(img) };
}

describe('report', () => {
  const { ds, results, lookup } = synthetic();
  const verification = evaluateVerification(generatePairs(ds, { seed: 1 }), lookup);
  const identification = evaluateIdentification(makeIdentificationSplit(ds, { seed: 1 }), lookup);
  const failures = collectFailures(results.keys(), lookup);
  const impostor = verification.scored.scores.filter((_, i) => !verification.scored.same[i]);
  const genuine = verification.scored.scores.filter((_, i) => verification.scored.same[i]);
  const metrics: EvalMetrics = {
    verification: verification.report,
    identification,
    calibration: calibrateThreshold(impostor, 1e-2, genuine),
    failures: summarizeFailures(failures, results.size),
  };
  const input = {
    metrics,
    charts: renderEvalCharts({ verification, identification, subtitle: 'synthetic · test-model' }),
    failures,
    command: 'facectl eval --dataset /data/synthetic --model test-model',
    versions: { facectl: '0.1.0', node: process.version, 'onnxruntime-node': '1.30.0' },
    dataset: { name: 'synthetic', path: '/data/synthetic', identities: 40, images: 240 },
    model: { id: 'test/model v1', hash: 'sha256:abc', detector: 'mtcnn' },
    timings: { embedding: 83456, metrics: 120 },
    createdAt: new Date('2025-03-04T05:06:07.890Z'),
  };

  it('writes metrics.json, report.md, failures.csv and the charts in a named folder', () => {
    const out = writeReport(tmp, input);
    expect(path.basename(out.dir)).toBe('synthetic-test_model_v1-20250304-050607');
    for (const f of [out.metricsJson, out.markdown, out.failuresCsv, ...out.charts]) expect(existsSync(f)).toBe(true);
    expect(out.charts.map((c) => path.basename(c))).toEqual(['roc.png', 'roc-log.png', 'score-histogram.png', 'cmc.png']);

    const json = JSON.parse(readFileSync(out.metricsJson, 'utf8'));
    expect(json.command).toBe(input.command);
    expect(json.model.detector).toBe('mtcnn');
    expect(json.metrics.verification.allPairs.rocAuc).toBeCloseTo(verification.report.allPairs.rocAuc, 12);
    expect(json.metrics.verification.allPairs.roc.thresholds[0]).toBe('Infinity');
    expect(json.metrics.failures.images).toBe(failures.length);
    expect(json.metrics.identification.closedSet.rank1).toBeCloseTo(identification.closedSet.rank1, 12);

    const csv = Papa.parse<string[]>(readFileSync(out.failuresCsv, 'utf8').trim()).data;
    expect(csv[0]).toEqual(['image', 'reason']);
    expect(csv.slice(1)).toEqual(failures.map((f) => [f.image, f.reason])); // commas in names survive quoting
    expect(failures.length).toBeGreaterThan(0);

    const md = readFileSync(out.markdown, 'utf8');
    expect(md).toContain(input.command);
    expect(md).toContain('onnxruntime-node');
    expect(md).toContain('| Detector | mtcnn |');
    expect(md).toContain(`${failures.length} of 240 images produced no embedding`);
    expect(md).toContain('scored -1');
    expect(md).toContain('![ROC curve](roc.png)');
    expect(md).toContain('| Rank-1 |');
    expect(md).toContain('1 min 23.5 s');
    expect(md).toMatch(/10-fold accuracy, mean ± standard error \| \d+\.\d\d% ± \d+\.\d\d% \| \d+\.\d\d% ± /);
    expect(md).toMatch(/TPR @ FPR ≤ 1e-4 \(threshold\) \| n\/a: needs at least 10000 impostor pairs/);
  });

  it('says what the folder scan left out, in the dataset table and metrics.json', () => {
    const notEvaluated = '1 empty identity folder (first: "zoe")';
    const out = writeReport(mkdtempSync(path.join(tmp, 'scan-')), { ...input, charts: [], dataset: { ...input.dataset, notEvaluated } });
    expect(readFileSync(out.markdown, 'utf8')).toContain(`| Not evaluated | ${notEvaluated} |`);
    expect(JSON.parse(readFileSync(out.metricsJson, 'utf8')).dataset.notEvaluated).toBe(notEvaluated);
  });

  it('a small generated set names the folds it averaged, and a calibration not written says so with its reason', () => {
    const few: FolderDataset = { ...ds, identities: ds.identities.slice(0, 3), imageCount: 18 };
    const protocol = generatePairs(few, { seed: 1 });
    const v = evaluateVerification(protocol, lookup);
    const used = v.report.allPairs.kFold!.folds.length;
    expect(used).toBeGreaterThan(1);
    expect(used).toBeLessThan(10);
    const strangers = [0.1, 0.2, 0.3];
    const small: EvalMetrics = {
      verification: v.report,
      calibration: { ...calibrateThreshold(strangers, 1e-2, [0.9], 'non-mated probes'), basis: 'open-set', written: false },
      failures: summarizeFailures([], 18),
    };
    expect(formatSummaryTable(small)).toContain(`${used}-fold accuracy ± SE`);
    expect(formatSummaryTable(small)).toMatch(/written to the store +│ +no: too few negatives/);
    const md = readFileSync(writeReport(mkdtempSync(path.join(tmp, 'small-')), { ...input, metrics: small, charts: [] }).markdown, 'utf8');
    expect(md).toContain(`| ${used}-fold accuracy, mean ± standard error |`);
    expect(md).not.toContain('10-fold');
    expect(md).toContain('only 3 non-mated probes: a rate of 0.01 needs at least 100');
    expect(md).toContain('**Not written to the store:**');
    // Folds are numbered from 1 in the text as in the per-fold table (metrics.json keeps 0-based indexes).
    const global = protocol.generation!.foldsWithGlobalImpostors;
    expect(global.length).toBeGreaterThan(0);
    expect(md).toContain(`folds ${global.map((f) => f + 1).join(', ')} had fewer than two identities`);
  });

  // A downloaded dataset's names reached report.md raw: a newline started a heading, ``` closed the command block.
  it('names with control characters or backticks cannot change report.md\'s structure', () => {
    const evil = 'ev\n```\n# Injected\u001b[2J';
    const out = writeReport(mkdtempSync(path.join(tmp, 'evil-')), {
      ...input,
      command: `facectl eval --dataset $'ev\\n\`\`\`'`,
      dataset: { ...input.dataset, name: evil, path: `/data/${evil}` },
      failures: [{ image: `p/bad | x\n## injected\u001b[31m.jpg`, reason: 'no face found' }, ...input.failures],
    });
    const md = readFileSync(out.markdown, 'utf8');
    expect(md).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(md).not.toMatch(/^# Injected/m);
    expect(md).not.toMatch(/^## injected/m);
    expect(md).toContain('# Evaluation: ev\\n```\\n# Injected\\x1b[2J · test/model v1');
    expect(md).toContain(`\n\`\`\`\`sh\n${'facectl eval --dataset $'}'ev\\n\`\`\`'\n\`\`\`\`\n`);
    expect(md).toContain('p/bad \\| x\\n## injected\\x1b[31m.jpg');
  });

  it('is private whatever the umask: a new reports root and each report folder 0700, their files 0600', () => {
    const root = path.join(mkdtempSync(path.join(tmp, 'private-')), 'reports', 'nested');
    const umask = process.umask(0);
    try {
      const out = writeReport(root, input);
      const mode = (f: string) => statSync(f).mode & 0o777;
      for (const d of [path.dirname(root), root, out.dir]) expect(mode(d), d).toBe(0o700);
      for (const f of [out.metricsJson, out.markdown, out.failuresCsv, ...out.charts]) expect(mode(f), f).toBe(0o600);
    } finally {
      process.umask(umask);
    }
  });

  it('never overwrites: a second report in the same second gets a suffix', () => {
    const again = writeReport(tmp, input);
    expect(path.basename(again.dir)).toBe('synthetic-test_model_v1-20250304-050607-2');
  });

  it('formats a plain-text terminal summary', () => {
    const table = formatSummaryTable(metrics);
    expect(table).not.toMatch(/\u001b\[/); // no colour codes
    expect(table).toMatch(/ROC AUC/);
    expect(table).toMatch(/rank-1/);
    expect(table).toMatch(/DIR @ FPIR 1e-2/);
    expect(table).toMatch(new RegExp(`Images without embedding: ${failures.length} of 240`));
    expect(table).toContain(`${(verification.report.allPairs.rocAuc).toFixed(4)}`);
  });

  it('helpers: slug, timestamp, JSON of non-finite numbers and typed arrays', () => {
    expect(slug('../my set/é')).toBe('my_set');
    expect(timestampOf(new Date('2025-12-31T23:59:58Z'))).toBe('20251231-235958');
    expect(JSON.parse(toJson({ a: Infinity, b: -Infinity, c: Float32Array.from([0.5]) }))).toEqual({ a: 'Infinity', b: '-Infinity', c: [0.5] });
  });
});

/** The entries of `dir` a user sees as reports (not the hidden ones). */
const visible = (dir: string) => readdirSync(dir).filter((n) => !n.startsWith('.'));

/** The name writeReport gives a report's hidden folder on this host, for process `pid`. */
const HOST = hostname().replace(/[^A-Za-z0-9.-]+/g, '_') || 'host';
const partialName = (base: string, pid: number, host = HOST) => `.${base}.partial-${host}-${pid}-abc123`;

/** A pid no process has: that of a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

describe('a report appears whole or not at all (kill -9 mid-way left a folder that read as a finished report)', () => {
  const tiny = tinyReport;
  afterEach(() => vi.restoreAllMocks());

  /**
   * Watches each report file being created under `root` (whichever fs call creates it): what the reports
   * folder showed at that moment, and, for the file named `failAt`, fails the write as a full disk does.
   */
  function watchWrites(root: string, failAt?: string) {
    const seen: { file: string; visible: string[] }[] = [];
    const check = (file: unknown) => {
      if (typeof file !== 'string' || !file.startsWith(root + path.sep)) return;
      seen.push({ file: path.basename(file), visible: visible(root) });
      if (path.basename(file) === failAt) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    const { openSync, writeFileSync: write } = fs;
    vi.spyOn(fs, 'openSync').mockImplementation(((file: string, ...rest: unknown[]) => {
      check(file);
      return (openSync as (...a: unknown[]) => number)(file, ...rest);
    }) as typeof fs.openSync);
    vi.spyOn(fs, 'writeFileSync').mockImplementation(((file: string, ...rest: unknown[]) => {
      check(file);
      return (write as (...a: unknown[]) => void)(file, ...rest);
    }) as typeof fs.writeFileSync);
    return seen;
  }

  it('while its files are written nothing is visible in the reports folder; then the folder appears with all of them', () => {
    const root = mkdtempSync(path.join(tmp, 'whole-'));
    const seen = watchWrites(root);
    const out = writeReport(root, tiny);
    vi.restoreAllMocks();
    expect(seen.map((s) => s.file)).toEqual(expect.arrayContaining(['roc.png', 'cmc.png', 'metrics.json', 'failures.csv', 'report.md']));
    for (const s of seen) expect(s.visible, `visible while ${s.file} was written`).toEqual([]);
    expect(readdirSync(root)).toEqual(['tiny-toy-20250304-050607']);
    expect(out.dir).toBe(path.join(root, 'tiny-toy-20250304-050607'));
    expect(readdirSync(out.dir).sort()).toEqual(['cmc.png', 'failures.csv', 'metrics.json', 'report.md', 'roc.png']);
    for (const f of [out.metricsJson, out.markdown, out.failuresCsv, ...out.charts]) expect(existsSync(f), f).toBe(true);
  });

  it('report.md that cannot be written (disk full): exit 11, and nothing left in the reports folder, hidden or not, at any time', () => {
    const root = mkdtempSync(path.join(tmp, 'full-'));
    const seen = watchWrites(root, 'report.md');
    let err: unknown;
    try {
      writeReport(root, tiny);
    } catch (e) {
      err = e;
    }
    vi.restoreAllMocks();
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.STORE_ERROR);
    expect((err as FacectlError).message).toBe('cannot write the report (ENOSPC)');
    expect(seen.at(-1)!.file).toBe('report.md');
    for (const s of seen) expect(s.visible, `visible while ${s.file} was written`).toEqual([]);
    expect(readdirSync(root)).toEqual([]);
  });

  it('killed (kill -9) while writing report.md: no visible report, only a hidden folder, which the next report removes', async () => {
    const root = mkdtempSync(path.join(tmp, 'killed-'));
    const script = path.join(repoRoot, 'test/eval/fixtures/report-killer.ts');
    const died = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, root, 'report.md'], { cwd: repoRoot }).then(
      () => null,
      (e: { signal?: string }) => e.signal,
    );
    expect(died).toBe('SIGKILL');
    expect(visible(root)).toEqual([]);
    const left = readdirSync(root);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^\.tiny-toy-\d{8}-\d{6}\.partial-/);
    // The next report (its writer, the killed process, is gone) clears it.
    const out = writeReport(root, tiny);
    expect(readdirSync(root)).toEqual([path.basename(out.dir)]);
  }, 60_000);

  it("hidden folders of dead writers on this host are removed (by the next report and by preparing the folder); live or other hosts' stay", () => {
    const root = mkdtempSync(path.join(tmp, 'stale-'));
    const dead = deadPid();
    const stale = [partialName('x', dead), partialName('y-2', dead)];
    const kept = [partialName('live', process.ppid), partialName('elsewhere', dead, 'another-host'), '.not-ours', 'a-finished-report'];
    for (const name of [...stale, ...kept]) {
      mkdirSync(path.join(root, name));
      writeFileSync(path.join(root, name, 'metrics.json'), '{}');
    }
    writeReport(root, tiny);
    expect(readdirSync(root).sort()).toEqual([...kept, 'tiny-toy-20250304-050607'].sort());
    // Planning an eval (prepareReportsFolder) clears them as well.
    mkdirSync(path.join(root, stale[0]!));
    prepareReportsFolder(root);
    expect(existsSync(path.join(root, stale[0]!))).toBe(false);
    expect(readdirSync(root).sort()).toEqual([...kept, 'tiny-toy-20250304-050607'].sort());
  });
});
