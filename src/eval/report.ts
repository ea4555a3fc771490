/**
 * Writes one evaluation's report folder: reports/<dataset>-<model>-<timestamp>/ with
 * metrics.json, report.md, failures.csv and the chart PNGs, written whole in a hidden folder first and
 * renamed into place (stageReport, publishReport), so that it appears complete or not at all.
 */
import { chmodSync, lstatSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Papa from 'papaparse';
import { ExitCode, FacectlError } from '../errors.js';
import { bestEffort, DIR_MODE, fsyncDir, makePrivateDirs, missingFolders, removeMadeFolders, writeFileDurable } from '../store/fsio.js';
import { pidAlive } from '../store/lock.js';
import { renderReportMarkdown, type ChartImage, type ReportContext } from './report-markdown.js';

export { formatSummaryTable } from './summary-table.js';
export type { ChartImage } from './report-markdown.js';

export interface ReportInput extends Omit<ReportContext, 'charts' | 'createdAt'> {
  charts: readonly ChartImage[];
  /** Defaults to now; fixed in tests. */
  createdAt?: Date;
}

export interface WrittenReport {
  dir: string;
  metricsJson: string;
  markdown: string;
  failuresCsv: string;
  charts: string[];
}

/** File-name-safe slug: letters, digits, dot, dash, underscore. */
export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '').slice(0, 60) || 'unnamed';
}

/** 2024-05-01T12:34:56.789Z -> 20240501-123456 (UTC). */
export function timestampOf(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/**
 * Pretty JSON with two readability fixes: non-finite numbers are spelled out ("Infinity"),
 * since JSON would turn them into null, and arrays of numbers (ROC, CMC) sit on one line
 * each instead of one line per value.
 */
export function toJson(value: unknown): string {
  const inline: string[] = [];
  const text = JSON.stringify(
    value,
    (_key, v) => {
      if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
      const arr = ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v;
      if (Array.isArray(arr) && arr.length > 0 && arr.every((x) => typeof x === 'number')) {
        inline.push(JSON.stringify(arr.map((x: number) => (Number.isFinite(x) ? x : String(x)))));
        return `\u0000inline${inline.length - 1}\u0000`;
      }
      return arr;
    },
    2,
  );
  return text.replace(/"\\u0000inline(\d+)\\u0000"/g, (_m, i: string) => inline[Number(i)]!);
}

/**
 * A report is written whole into a hidden folder beside where it goes (`.<base>.partial-<host>-<pid>-<random>`,
 * 0700: a report names the photos, people's names in their paths, and the command: private, like the store),
 * its files fsynced, and only then renamed to its own name: a run killed mid-way (kill -9, power loss) leaves
 * a hidden folder, never a visible one holding charts and metrics.json without report.md, which would read
 * as a finished report. A later run removes such a folder once its process is gone (removeAbandonedPartials).
 */
const HOST = hostname().replace(/[^A-Za-z0-9.-]+/g, '_') || 'host';
const PARTIAL_NAME = /^\..+\.partial-(.+)-(\d+)-[A-Za-z0-9]{6}$/;

/** Makes the hidden folder a report is written into (mkdtemp: a new folder, 0700, its name unique). */
function createPartialDir(root: string, base: string): string {
  makePrivateDirs(root);
  const dir = mkdtempSync(path.join(root, `.${base}.partial-${HOST}-${process.pid}-`));
  chmodSync(dir, DIR_MODE); // whatever the umask
  return dir;
}

/**
 * The hidden folders of reports whose writer was killed (its pid, on this host, is gone): removed, with what
 * they hold. Those of live processes (a report waiting for its threshold to reach the store) and of other
 * hosts sharing the folder stay. Cleaning only: errors are ignored. Returns the names removed.
 */
export function removeAbandonedPartials(root: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = PARTIAL_NAME.exec(name);
    if (!m || m[1] !== HOST) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      const dir = path.join(root, name);
      if (!lstatSync(dir).isDirectory()) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(name);
    } catch {
      /* left for the next run */
    }
  }
  return removed;
}

/**
 * Renames the finished hidden folder to its own name, adding -2, -3... when a report of the same second
 * exists: never over another report (a finished report is never empty, so a rename onto one that appears
 * meanwhile fails with ENOTEMPTY and the next suffix is tried).
 */
function moveIntoPlace(partial: string, root: string, base: string): string {
  for (let n = 1; n < 1000; n++) {
    const dir = path.join(root, n === 1 ? base : `${base}-${n}`);
    if (lstatSync(dir, { throwIfNoEntry: false })) continue;
    try {
      renameSync(partial, dir);
      return dir;
    } catch (e) {
      if (!['EEXIST', 'ENOTEMPTY', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
  throw new FacectlError(ExitCode.STORE_ERROR, 'too many reports with the same name', path.join(root, base));
}

/**
 * After a failed write (a full disk): the report folder this run made goes, with what it holds, and so do the
 * folders above it that this run made, if still empty (another run may have put its report there meanwhile).
 */
function removeUnfinished(dir: string | undefined, madeAbove: readonly string[]): void {
  if (dir) bestEffort(() => rmSync(dir, { recursive: true, force: true }));
  removeMadeFolders(madeAbove);
}

/** The folder report folders go in, made (and checked writable) before an evaluation starts. */
export interface ReportsFolder {
  root: string;
  /** The folders of its path this run made, outermost first: removed again, if still empty, when the run fails. */
  made: string[];
}

/**
 * Makes the reports folder (0700, with any missing folders above it) and checks a report can be made in it,
 * so that a bad --reports (a file in the path, a read-only disk, a folder without write permission) fails
 * before hours of embedding rather than after. discardReportsFolder undoes it when a later step fails.
 */
export function prepareReportsFolder(reportsRoot: string): ReportsFolder {
  const root = path.resolve(reportsRoot);
  const made = missingFolders(root);
  try {
    makePrivateDirs(root);
    rmdirSync(mkdtempSync(path.join(root, '.facectl-write-check-')));
  } catch (e) {
    removeUnfinished(undefined, made);
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new FacectlError(ExitCode.STORE_ERROR, `cannot write the report here (${code})`, reportsRoot);
  }
  removeAbandonedPartials(root);
  return { root, made };
}

/** A run that failed after prepareReportsFolder: the folders it made go again, if still empty. */
export function discardReportsFolder(folder: ReportsFolder): void {
  removeUnfinished(undefined, folder.made);
}

/** A report written in full into its hidden folder, not yet under its own name (publishReport puts it there). */
export interface StagedReport {
  /** The hidden folder holding it. */
  readonly partial: string;
  readonly root: string;
  /** Its name once published (before any same-second suffix). */
  readonly base: string;
  /** The charts' file names, in order. */
  readonly charts: readonly string[];
  /** The folders above the reports folder this run made, outermost first: removed again, if still empty, when the report is discarded. */
  readonly madeAbove: readonly string[];
}

const METRICS_JSON = 'metrics.json';
const FAILURES_CSV = 'failures.csv';
const REPORT_MD = 'report.md';

/** A write failure as one line naming the reports folder; FacectlErrors pass through. */
function reportError(e: unknown, root: string): FacectlError {
  if (e instanceof FacectlError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  return new FacectlError(ExitCode.STORE_ERROR, `cannot write the report (${code})`, root);
}

/**
 * Writes the whole report (charts, metrics.json, failures.csv, report.md; each fsynced) into a new hidden
 * folder of the reports folder. Nothing is visible under the report's name until publishReport. On failure
 * the hidden folder, and the folders above it this run made if still empty, are removed.
 * `reportsRoot`: a folder, or one prepareReportsFolder made (whose new folders a failed write removes too).
 */
export function stageReport(reportsRoot: string | ReportsFolder, input: ReportInput): StagedReport {
  const createdAt = input.createdAt ?? new Date();
  const base = `${slug(input.dataset.name)}-${slug(input.model.id)}-${timestampOf(createdAt)}`;
  const prepared = typeof reportsRoot === 'string' ? null : reportsRoot;
  const root = prepared ? prepared.root : (reportsRoot as string);
  // Ancestors of one folder, outermost first: the shorter path is the outer one.
  const madeAbove = [...new Set([...(prepared?.made ?? []), ...missingFolders(root)])].sort((a, b) => a.length - b.length);
  let partial: string | undefined;
  try {
    removeAbandonedPartials(root);
    partial = createPartialDir(root, base);
    const chartRefs = input.charts.map((c) => ({ file: path.basename(c.file), title: c.title }));
    const charts = chartRefs.map((c) => c.file);
    // Every file is new: two of one name (two charts, a chart called report.md) would silently lose one.
    const names = [...charts, METRICS_JSON, FAILURES_CSV, REPORT_MD];
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw Object.assign(new Error(`two files of the report are named ${twice}`), { code: 'EEXIST' });
    input.charts.forEach((c, i) => writeFileDurable(partial!, charts[i]!, c.png));
    writeFileDurable(
      partial,
      METRICS_JSON,
      toJson({
        createdAt: createdAt.toISOString(),
        command: input.command,
        versions: input.versions,
        dataset: input.dataset,
        model: input.model,
        timingsMs: input.timings,
        metrics: input.metrics,
        charts: chartRefs,
      }) + '\n',
    );
    writeFileDurable(partial, FAILURES_CSV, Papa.unparse({ fields: ['image', 'reason'], data: input.failures.map((f) => [f.image, f.reason]) }, { newline: '\n' }) + '\n');
    writeFileDurable(
      partial,
      REPORT_MD,
      renderReportMarkdown({ ...input, createdAt, charts: chartRefs }),
    );
    fsyncDir(partial);
    return { partial, root, base, charts, madeAbove };
  } catch (e) {
    removeUnfinished(partial, madeAbove);
    throw reportError(e, root);
  }
}

/**
 * Renames a staged report to its own name (`<base>`, or `<base>-2`… when that is taken) and fsyncs the
 * reports folder: the report appears whole or not at all. On failure the staged report is removed.
 */
export function publishReport(staged: StagedReport): WrittenReport {
  let dir: string;
  try {
    dir = moveIntoPlace(staged.partial, staged.root, staged.base);
  } catch (e) {
    discardStagedReport(staged);
    throw reportError(e, staged.root);
  }
  try {
    fsyncDir(staged.root);
  } catch (e) {
    // The rename may not survive a crash: a failed write, like any other, leaves no report.
    removeUnfinished(dir, staged.madeAbove);
    throw reportError(e, staged.root);
  }
  return {
    dir,
    metricsJson: path.join(dir, METRICS_JSON),
    markdown: path.join(dir, REPORT_MD),
    failuresCsv: path.join(dir, FAILURES_CSV),
    charts: staged.charts.map((c) => path.join(dir, c)),
  };
}

/** A staged report that must not be published (its threshold could not go into the store): its hidden folder goes, and the empty folders above it this run made. */
export function discardStagedReport(staged: StagedReport): void {
  removeUnfinished(staged.partial, staged.madeAbove);
}

/** Stages the report and publishes it at once. `reportsRoot`: as stageReport's. */
export function writeReport(reportsRoot: string | ReportsFolder, input: ReportInput): WrittenReport {
  return publishReport(stageReport(reportsRoot, input));
}
