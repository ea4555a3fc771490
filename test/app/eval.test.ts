/**
 * The eval use case without a model: planning (pairs, split, image list, refusals) and measuring and
 * calibrating from synthetic embeddings, so the orchestration is tested where no dataset is present;
 * a whole run through a stand-in pipeline when the charts cannot be drawn.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { measure, planEval, runEval, type EvalMeasurement, type EvalRequest } from '../../src/app/eval.js';
import { chooseThreshold } from '../../src/app/eval-calibration.js';
import { ExitCode, FacectlError, ModelError } from '../../src/errors.js';
import type { EmbeddingResult } from '../../src/eval/index.js';
import type { FacePipeline } from '../../src/pipeline/pipeline.js';
import type { Gallery } from '../../src/gallery/types.js';

/** Set to make renderEvalCharts throw (a chart bug) in the test that needs it; the real one otherwise. */
const chartBug = vi.hoisted(() => ({ message: '' }));
vi.mock('../../src/eval/eval-charts.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/eval/eval-charts.js')>();
  return {
    ...real,
    renderEvalCharts: (...args: Parameters<typeof real.renderEvalCharts>) => {
      if (chartBug.message) throw new RangeError(chartBug.message);
      return real.renderEvalCharts(...args);
    },
  };
});

/** <tmp>/<person>/<n>.jpg for `people` × `photos` (planning never decodes them). */
function folderDataset(people: number, photos: number): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'facectl-evalplan-'));
  for (let p = 0; p < people; p++) {
    mkdirSync(path.join(root, `person${p}`));
    for (let k = 0; k < photos; k++) writeFileSync(path.join(root, `person${p}`, `${k}.jpg`), 'x');
  }
  return root;
}

const request = (datasetDir: string, extra: Partial<EvalRequest> = {}): EvalRequest => ({
  datasetDir, verification: true, seed: 42, face: 'center', cache: false, charts: false, reportsDir: mkdtempSync(path.join(os.tmpdir(), 'facectl-evalreports-')),
  provenance: { command: 'test', versions: {} }, ...extra,
});

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.USAGE);
    return (err as FacectlError).message;
  }
  throw new Error('expected a usage error');
}

/** Person p's photos: unit vector on axis p, tilted a little by the photo number. */
function lookupFor(dimension: number) {
  return (image: string): EmbeddingResult => {
    const [, p, k] = /^person(\d+)\/(\d+)\.jpg$/.exec(image)!.map(Number);
    const v = new Float32Array(dimension);
    v[p!] = 1;
    v[(p! + 1) % dimension] = 0.1 * k!;
    const n = Math.hypot(...v);
    return { ok: true, embedding: v.map((x) => x / n) };
  };
}

describe('planEval', () => {
  it('without a pairs file: generated pairs plus a full identification split, each image once', () => {
    const root = folderDataset(12, 3);
    const plan = planEval(request(root));
    expect(plan.protocol!.pairs.length).toBeGreaterThan(0);
    expect(plan.split!.gallery.length + plan.split!.nonMatedProbes.length).toBeGreaterThan(0);
    expect(new Set(plan.images).size).toBe(plan.images.length);
    expect(plan.images.length).toBe(36); // 'full' identification uses every photo
    expect(planEval(request(root, { identification: 'none' })).split).toBeNull();
  });

  it('refuses --max-identities with a pairs file, and a plan with nothing to evaluate', () => {
    const root = folderDataset(4, 2);
    writeFileSync(path.join(root, 'pairs.txt'), '1\t1\nperson0\t0\t1\nperson0\t0\tperson1\t0\n');
    expect(usageError(() => planEval(request(root, { maxIdentities: 2 })))).toMatch(/--max-identities cannot shorten a pairs protocol/);
    expect(usageError(() => planEval(request(root, { verification: false, identification: 'none' })))).toMatch(/nothing to evaluate/);
  });

  it('refuses a pairs file naming photos the dataset does not have (NOT_FOUND), instead of scoring them as failures', () => {
    const root = folderDataset(0, 0);
    for (const [name, k] of [['Ann', 1], ['Ann', 2], ['Bob', 1]] as const) {
      mkdirSync(path.join(root, name), { recursive: true });
      writeFileSync(path.join(root, name, `${name}_000${k}.jpg`), 'x');
    }
    writeFileSync(path.join(root, 'pairs.txt'), '1\t1\nAnn\t1\t2\nAnn\t1\tBob\t1\n');
    expect(planEval(request(root, { identification: 'none' })).protocol!.pairs).toHaveLength(2);
    writeFileSync(path.join(root, 'pairs.txt'), '1\t2\nAnn\t1\t2\nAnn\t1\t3\nAnn\t1\tBob\t1\nAnn\t2\tCid\t1\n');
    let err: unknown;
    try {
      planEval(request(root, { identification: 'none' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.NOT_FOUND);
    expect((err as FacectlError).message).toBe(`2 photo(s) named by ${path.join(root, 'pairs.txt')} are not in ${root} (first: Ann/Ann_0003.jpg): is --dataset the folder it was written for?`);
  });

  it('--no-verification: --pairs only with --identification pairs, which reads the pairs file; refused where it would do nothing', () => {
    const root = folderDataset(4, 3);
    const pairs = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-evalpairs-')), 'pairs.txt');
    const lines = 'person0\t1\t2\nperson1\t1\t2\nperson0\t1\tperson2\t1\n';
    writeFileSync(pairs, lines);
    // LFW naming: person0/person0_0001.jpg …
    const named = [[0, 1], [0, 2], [1, 1], [1, 2], [2, 1]].map(([p, k]) => `person${p}/person${p}_000${k}.jpg`);
    for (const f of named) writeFileSync(path.join(root, f), 'x');
    const noVer = (extra: Partial<EvalRequest>) => request(root, { verification: false, ...extra });
    expect(usageError(() => planEval(noVer({ pairsFile: pairs })))).toMatch(/^--pairs does nothing with --no-verification unless --identification pairs/);
    expect(usageError(() => planEval(noVer({ pairsFile: pairs, identification: 'full' })))).toMatch(/^--pairs does nothing/);
    expect(usageError(() => planEval(noVer({ pairsFile: pairs, identification: 'none' })))).toMatch(/^--pairs does nothing/);
    // No pairs file at all: 'pairs' used to turn silently into 'full'.
    expect(usageError(() => planEval(noVer({ identification: 'pairs' })))).toMatch(/^--identification pairs with --no-verification needs a pairs file/);
    const plan = planEval(noVer({ pairsFile: pairs, identification: 'pairs' }));
    expect(plan.protocol).toBeNull();
    expect([...plan.images].sort()).toEqual(named);
    // A missing --pairs file is NOT_FOUND here too (it was never even looked at).
    expect(() => planEval(noVer({ pairsFile: pairs + '.missing', identification: 'pairs' }))).toThrow(/pairs file not found/);
    // pairs.txt in the dataset serves --identification pairs as --pairs does; without verification the default stays 'full'.
    writeFileSync(path.join(root, 'pairs.txt'), lines);
    expect(planEval(noVer({ identification: 'pairs' })).images).toHaveLength(5);
    expect(planEval(noVer({})).images).toHaveLength(17);
  });

  it('names what the folder scan left out (empty identity folders, subfolders); not with a pairs file', () => {
    const root = folderDataset(4, 3);
    expect(planEval(request(root)).notEvaluated).toBeNull();
    mkdirSync(path.join(root, 'zoe'));
    mkdirSync(path.join(root, 'person1', 'more'));
    writeFileSync(path.join(root, 'person1', 'more', '5.jpg'), 'x');
    expect(planEval(request(root)).notEvaluated).toBe(
      '1 empty identity folder (first: "zoe"); 1 entry inside identity folders that is no photo file: subfolders are not read (first: "person1/more")',
    );
    writeFileSync(path.join(root, 'pairs.txt'), '1\t1\nperson0\t1\t2\nperson0\t1\tperson1\t1\n');
    writeFileSync(path.join(root, 'person0', 'person0_0001.jpg'), 'x');
    writeFileSync(path.join(root, 'person0', 'person0_0002.jpg'), 'x');
    writeFileSync(path.join(root, 'person1', 'person1_0001.jpg'), 'x');
    expect(planEval(request(root, { identification: 'none' })).notEvaluated).toBeNull();
  });

  it('--max-identities keeps the first identities only', () => {
    const plan = planEval(request(folderDataset(10, 2), { maxIdentities: 3 }));
    expect(plan.dataset.identities.map((i) => i.name)).toEqual(['person0', 'person1', 'person2']);
    // Every photo of the kept identities, and no other (an empty list must not pass).
    expect([...plan.images].sort()).toEqual(['person0/0.jpg', 'person0/1.jpg', 'person1/0.jpg', 'person1/1.jpg', 'person2/0.jpg', 'person2/1.jpg']);
  });
});

describe('measure and chooseThreshold', () => {
  const root = folderDataset(12, 3);
  const plan = planEval(request(root));
  const m = measure(plan, lookupFor(16), {});

  it('separable embeddings measure as perfect verification and identification', () => {
    expect(m.metrics.verification!.allPairs.rocAuc).toBe(1);
    expect(m.metrics.identification!.closedSet.rank1).toBe(1);
    expect(m.metrics.failures.images).toBe(0);
  });

  it('calibrates on impostor pairs (1:1) or on non-mated probes (1:N), and says what is missing', () => {
    const pairs = chooseThreshold(m, 0.1, undefined);
    expect(pairs.basis).toBe('pairs');
    const impostors = m.verification!.scored.scores.filter((_, i) => !m.verification!.scored.same[i]);
    const t = pairs.calibration.threshold;
    expect(impostors.filter((s) => s >= t).length / impostors.length).toBeLessThanOrEqual(0.1); // the asked-for FPR
    expect(chooseThreshold(m, 0.1, 0.01).basis).toBe('open-set');
    const noId = measure(planEval(request(root, { identification: 'none' })), lookupFor(16), {});
    expect(usageError(() => chooseThreshold(noId, 0.1, 0.01))).toMatch(/a 1:N \(login\) threshold needs identification/);
  });

  /** A measurement holding only what chooseThreshold reads. */
  const scored = (probes: { mated: number[]; nonMated: number[] } | null, pairs?: { scores: number[]; same: boolean[] }) =>
    ({ identification: probes ? { probeScores: probes } : undefined, verification: pairs ? { scored: pairs } : undefined }) as unknown as EvalMeasurement;

  it('a login threshold counts only strangers with a face: photos without one never meet the threshold at login (exit 4)', () => {
    const strangers = Array.from({ length: 100 }, (_, i) => i / 100); // 0.00 … 0.99
    const noFace = Array.from({ length: 300 }, () => -Infinity);
    const c = chooseThreshold(scored({ mated: [0.995, -Infinity], nonMated: [...strangers, ...noFace] }), 1e-3, 0.01).calibration;
    // 1 of 100 strangers may be accepted: the threshold lies between the two highest (counting the 300
    // face-less photos as rejected strangers would allow 4 and put it near 0.955).
    expect(c.negatives).toBe(100);
    expect(c.falseAccepts).toBe(1);
    expect(c.threshold).toBeGreaterThan(0.98);
    expect(c.threshold).toBeLessThanOrEqual(0.99);
    expect(c.tpr).toBe(0.5); // the mated probe without a face is a miss
    expect(c.reliable).toBe(true);
  });

  it('no stranger with a face, or no impostor pair with two faces, is a usage error (exit 2), not a crash', () => {
    expect(usageError(() => chooseThreshold(scored({ mated: [0.9], nonMated: [-Infinity, -Infinity] }), 1e-3, 0.01))).toMatch(
      /^no non-mated probe with a face .*--open-set-fraction/,
    );
    expect(usageError(() => chooseThreshold(scored({ mated: [0.9], nonMated: [] }), 1e-3, 0.01))).toMatch(/^no non-mated probe with a face/);
    const pairs = { scores: [0.8, -1, -1], same: [true, false, false] }; // -1: a pair with a failed photo
    expect(usageError(() => chooseThreshold(scored(null, pairs), 0.1, undefined))).toMatch(/^no impostor pair with a face on both sides/);
  });

  it('too few negatives for the target rate: the calibration says so by what it counted', () => {
    const c = chooseThreshold(scored({ mated: [0.9], nonMated: [0.1, 0.2, 0.3, 0.4, 0.5] }), 1e-3, 0.01).calibration;
    expect(c.reliable).toBe(false);
    expect(c.note).toBe('only 5 non-mated probes: a rate of 0.01 needs at least 100; the threshold rejects every one seen, but the true rate is not measured');
  });
});

describe('runEval', () => {
  it('when the charts cannot be drawn, the report is still written (without them) and says why', async () => {
    const root = folderDataset(12, 3);
    const embedding = lookupFor(16);
    const pipeline = {
      embedderInfo: { spec: { id: 'toy' }, fingerprint: 'toy' },
      detector: { id: 'blazeface' },
      decodeBytes: async () => ({}),
      processImage: async (_image: unknown, _policy: unknown, _opts: unknown, file: string) => [
        { embedding: (embedding(path.relative(root, file)) as { embedding: Float32Array }).embedding },
      ],
    } as unknown as FacePipeline;
    const reportsDir = mkdtempSync(path.join(os.tmpdir(), 'facectl-evalreport-'));
    const req = request(root, { charts: true, reportsDir });
    chartBug.message = 'Maximum call stack size exceeded';
    try {
      const r = await runEval(pipeline, planEval(req), req);
      expect(r.chartsFailed).toBe('Maximum call stack size exceeded');
      expect(r.report.charts).toEqual([]);
      for (const f of [r.report.markdown, r.report.metricsJson, r.report.failuresCsv]) expect(existsSync(f), f).toBe(true);
      expect(r.metrics.verification!.allPairs.rocAuc).toBe(1);
    } finally {
      chartBug.message = '';
    }
  });
});

/** A pipeline that embeds photo <person>/<k>.jpg as lookupFor(16) does. */
function toyPipeline(root: string): FacePipeline {
  const embedding = lookupFor(16);
  return {
    embedderInfo: { spec: { id: 'toy', dim: 16 }, fingerprint: 'toy', detector: 'blazeface' },
    detector: { id: 'blazeface' },
    decodeBytes: async () => ({}),
    processImage: async (_image: unknown, _policy: unknown, _opts: unknown, file: string) => [
      { embedding: (embedding(path.relative(root, file)) as { embedding: Float32Array }).embedding },
    ],
  } as unknown as FacePipeline;
}

/** A gallery that records the thresholds written into it; `failWrite` makes the write fail as a locked store does. */
function recordingGallery(failWrite = false) {
  const written: number[] = [];
  const gallery = {
    location: '/tmp/toy-store',
    info: async () => ({ model: null, faces: 0 }),
    mutate: async (fn: (draft: unknown) => Promise<void>) => {
      if (failWrite) throw new FacectlError(ExitCode.STORE_ERROR, 'store is locked by another facectl process', '/tmp/toy-store');
      await fn({ model: null, setThreshold: async (t: { value: number }) => void written.push(t.value) });
    },
  } as unknown as Gallery;
  return { gallery, written };
}

async function exitOf(p: Promise<unknown>): Promise<FacectlError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(FacectlError);
    return err as FacectlError;
  }
  throw new Error('expected a FacectlError');
}

describe('the report\'s dataset counts', () => {
  it('with a pairs file, identities and images are those evaluated, not the whole folder (it said 12 people for 3)', async () => {
    // LFW's naming, as a pairs file needs: <name>/<name>_0001.jpg; photo k of person p is folderDataset's p/k.
    const root = mkdtempSync(path.join(os.tmpdir(), 'facectl-evalcount-'));
    for (let p = 0; p < 12; p++) {
      mkdirSync(path.join(root, `person${p}`));
      for (let k = 1; k <= 3; k++) writeFileSync(path.join(root, `person${p}`, `person${p}_000${k}.jpg`), 'x');
    }
    writeFileSync(path.join(root, 'pairs.txt'), '1\t1\nperson0\t1\t2\nperson1\t1\tperson2\t1\n');
    const toy = toyPipeline(root);
    const embedOf = toy.processImage.bind(toy);
    const pipeline = { ...toy, processImage: (image: unknown, policy: unknown, opts: unknown, file: string) =>
      embedOf(image as never, policy as never, opts as never, file.replace(/person\d+_000(\d)\.jpg$/, (_m, k: string) => `${k}.jpg`)) } as FacePipeline;
    const req = request(root, { identification: 'none' });
    const r = await runEval(pipeline, planEval(req), req);
    const written = JSON.parse(readFileSync(r.report.metricsJson, 'utf8')) as { dataset: { identities: number; images: number } };
    expect(written.dataset).toMatchObject({ identities: 3, images: 4 });
  });
});

describe('runEval --calibrate: the report first, then the threshold', () => {
  it('a report that cannot be written leaves the store unchanged (exit 11)', async () => {
    const root = folderDataset(12, 3);
    const { gallery, written } = recordingGallery();
    const reportsDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-evalreport-')), 'reports');
    const req = request(root, { reportsDir, calibrate: { gallery, targetFpr: 0.1 } });
    const plan = planEval(req);
    // The reports folder turns into a file after planning (or the disk fills): the report cannot be written.
    rmSync(reportsDir, { recursive: true, force: true });
    writeFileSync(reportsDir, 'not a folder');
    const err = await exitOf(runEval(toyPipeline(root), plan, req));
    expect(err.code).toBe(ExitCode.STORE_ERROR);
    expect(err.message).toMatch(/cannot write the report/);
    expect(written).toEqual([]);
  });

  it('a threshold that cannot be written removes the report, and the error says so', async () => {
    const root = folderDataset(12, 3);
    const { gallery, written } = recordingGallery(true);
    const reportsDir = mkdtempSync(path.join(os.tmpdir(), 'facectl-evalreport-'));
    const req = request(root, { reportsDir, calibrate: { gallery, targetFpr: 0.1 } });
    const err = await exitOf(runEval(toyPipeline(root), planEval(req), req));
    expect(err.code).toBe(ExitCode.STORE_ERROR);
    expect(err.message).toMatch(/^store is locked by another facectl process; threshold not written to the store, and the report .* was removed/);
    expect(written).toEqual([]);
    expect(readdirSync(reportsDir)).toEqual([]);
  });

  // A kill between the two left a report whose metrics.json said "written": true while the store was unchanged.
  it('the report is not visible until the threshold is in the store; one whose threshold fails never appears', async () => {
    const root = folderDataset(12, 3);
    const reportsDir = mkdtempSync(path.join(os.tmpdir(), 'facectl-evalreport-'));
    const visible = () => readdirSync(reportsDir).filter((n) => !n.startsWith('.'));
    /** What the reports folder held when the store's commit ran: the report, prepared, is there but hidden. */
    const atCommit: { visible: string[]; hidden: string[] }[] = [];
    const gallery = (fail: boolean) => ({
      location: '/tmp/toy-store',
      info: async () => ({ model: null, faces: 0 }),
      mutate: async (fn: (draft: unknown) => Promise<void>) => {
        const hidden = readdirSync(reportsDir).filter((n) => n.startsWith('.'));
        atCommit.push({ visible: visible(), hidden });
        // A finished report waits in the hidden folder (a kill here leaves no visible report).
        for (const h of hidden) expect(readdirSync(path.join(reportsDir, h)).sort()).toEqual(['failures.csv', 'metrics.json', 'report.md']);
        if (fail) throw new FacectlError(ExitCode.STORE_ERROR, 'store is locked by another facectl process', '/tmp/toy-store');
        await fn({ model: null, setThreshold: async () => undefined });
      },
    }) as unknown as Gallery;

    const failing = request(root, { reportsDir, calibrate: { gallery: gallery(true), targetFpr: 0.1 } });
    const err = await exitOf(runEval(toyPipeline(root), planEval(failing), failing));
    expect(atCommit[0]!.visible).toEqual([]);
    expect(atCommit[0]!.hidden).toHaveLength(1);
    expect(err.message).toMatch(/threshold not written to the store, and the report .*\.partial-.* was removed \(it gave it as written\)$/);
    expect(readdirSync(reportsDir)).toEqual([]);

    const ok = request(root, { reportsDir, calibrate: { gallery: gallery(false), targetFpr: 0.1 } });
    const r = await runEval(toyPipeline(root), planEval(ok), ok);
    expect(atCommit[1]!.visible).toEqual([]);
    expect(readdirSync(reportsDir)).toEqual([path.basename(r.report.dir)]);
    expect(path.dirname(r.report.dir)).toBe(reportsDir);
    expect(JSON.parse(readFileSync(r.report.metricsJson, 'utf8')).metrics.calibration.written).toBe(true);
    for (const f of [r.report.markdown, r.report.failuresCsv]) expect(existsSync(f), f).toBe(true);
  });

  it('both written when both can be', async () => {
    const root = folderDataset(12, 3);
    const { gallery, written } = recordingGallery();
    const reportsDir = mkdtempSync(path.join(os.tmpdir(), 'facectl-evalreport-'));
    const req = request(root, { reportsDir, calibrate: { gallery, targetFpr: 0.1 } });
    const r = await runEval(toyPipeline(root), planEval(req), req);
    expect(written).toEqual([r.calibrated!.value]);
    expect(r.calibrated!.written).toBe(true);
    expect(existsSync(r.report.metricsJson)).toBe(true);
  });
});

describe('the reports folder is made and checked while planning, before any model loads', () => {
  it('a file in the --reports path fails the plan (exit 11), not the report after the embedding', () => {
    const root = folderDataset(12, 3);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-evalreport-')), 'a-file');
    writeFileSync(file, 'x');
    let err: unknown;
    try {
      planEval(request(root, { reportsDir: path.join(file, 'reports') }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.STORE_ERROR);
    expect((err as FacectlError).message).toBe('cannot write the report here (ENOTDIR)');
  });

  it('the folders planning made are removed when a later step fails, kept when the report is written', async () => {
    const root = folderDataset(12, 3);
    const outer = mkdtempSync(path.join(os.tmpdir(), 'facectl-evalreport-'));
    const reportsDir = path.join(outer, 'new', 'reports');
    const req = request(root, { reportsDir });
    const plan = planEval(req);
    expect(existsSync(reportsDir)).toBe(true);
    const broken = { ...toyPipeline(root), processImage: async () => { throw new ModelError('toy', 'cannot run'); } } as unknown as FacePipeline;
    await expect(runEval(broken, plan, req)).rejects.toBeInstanceOf(ModelError);
    expect(readdirSync(outer)).toEqual([]);
    const again = planEval(req);
    const r = await runEval(toyPipeline(root), again, req);
    expect(path.dirname(r.report.dir)).toBe(reportsDir);
  });
});

describe('the report records the pairs file', () => {
  it('metrics.json and report.md give its absolute path and sha256, whatever path was typed', async () => {
    const root = folderDataset(4, 0);
    const pairsFile = path.join(root, 'pairs.txt');
    writeFileSync(pairsFile, '2\t1\nperson0\t1\t2\nperson0\t1\tperson1\t1\nperson1\t1\t2\nperson2\t1\tperson3\t1\n');
    // LFW names the photos person0/person0_0001.jpg: lay them out so.
    for (let p = 0; p < 4; p++) for (const k of [1, 2]) writeFileSync(path.join(root, `person${p}`, `person${p}_000${k}.jpg`), 'x');
    const req = request(root, { pairsFile: path.relative(process.cwd(), pairsFile), identification: 'none' });
    const pipeline = {
      ...toyPipeline(root),
      processImage: async (_i: unknown, _p: unknown, _o: unknown, file: string) => {
        const [, p, k] = /person(\d)_000(\d)\.jpg$/.exec(file)!.map(Number);
        return [{ embedding: (lookupFor(16)(`person${p}/${k}.jpg`) as { embedding: Float32Array }).embedding }];
      },
    } as unknown as FacePipeline;
    const r = await runEval(pipeline, planEval(req), req);
    const metrics = JSON.parse(readFileSync(r.report.metricsJson, 'utf8'));
    const sha256 = createHash('sha256').update(readFileSync(pairsFile)).digest('hex');
    expect(metrics.dataset.pairsFile).toEqual({ path: pairsFile, sha256 });
    expect(readFileSync(r.report.markdown, 'utf8')).toContain(`| Pairs file | ${pairsFile} (sha256 ${sha256}) |`);
  });
});
