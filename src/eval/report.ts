/**
 * Writes one evaluation's report folder: reports/<dataset>-<model>-<timestamp>/ with
 * metrics.json, report.md, failures.csv and the chart PNGs.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import Papa from 'papaparse';
import { ExitCode, FacectlError } from '../errors.js';
import { DIR_MODE, makePrivateDirs, writeNewPrivateFile } from '../store/fsio.js';
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
 * Creates a new folder, 0700, adding -2, -3... when a report of the same second exists. A report names
 * the photos (people's names in their paths) and the command: private, like the store.
 */
function createReportDir(root: string, base: string): string {
  makePrivateDirs(root);
  for (let n = 1; n < 1000; n++) {
    const dir = path.join(root, n === 1 ? base : `${base}-${n}`);
    try {
      mkdirSync(dir, { mode: DIR_MODE });
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new FacectlError(ExitCode.STORE_ERROR, 'too many reports with the same name', path.join(root, base));
}


/** The folders of `dir`'s path that do not exist yet, outermost first (what makePrivateDirs will make). */
function missingFolders(dir: string): string[] {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) missing.unshift(d);
  return missing;
}

/**
 * After a failed write (a full disk): the report folder this run made goes, with what it holds, and so do the
 * folders above it that this run made, if still empty (another run may have put its report there meanwhile).
 */
function removeUnfinished(dir: string | undefined, madeAbove: readonly string[]): void {
  // Best effort, each on its own (one that fails must not leave the others): the error being reported matters more.
  const attempt = (remove: () => void) => {
    try {
      remove();
    } catch {
      /* left as it is */
    }
  };
  if (dir) attempt(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of [...madeAbove].reverse()) attempt(() => rmdirSync(d));
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
  return { root, made };
}

/** A run that failed after prepareReportsFolder: the folders it made go again, if still empty. */
export function discardReportsFolder(folder: ReportsFolder): void {
  removeUnfinished(undefined, folder.made);
}

/** A written report's folder and what it holds (its threshold could not go into the store after all), and the empty folders above it this run made. */
export function removeReport(report: WrittenReport, madeAbove: readonly string[] = []): void {
  removeUnfinished(report.dir, madeAbove);
}

/** `reportsRoot`: a folder, or one prepareReportsFolder made (whose new folders a failed write removes too). */
export function writeReport(reportsRoot: string | ReportsFolder, input: ReportInput): WrittenReport {
  const createdAt = input.createdAt ?? new Date();
  const base = `${slug(input.dataset.name)}-${slug(input.model.id)}-${timestampOf(createdAt)}`;
  const prepared = typeof reportsRoot === 'string' ? null : reportsRoot;
  const root = prepared ? prepared.root : (reportsRoot as string);
  // Ancestors of one folder, outermost first: the shorter path is the outer one.
  const madeAbove = [...new Set([...(prepared?.made ?? []), ...missingFolders(root)])].sort((a, b) => a.length - b.length);
  let made: string | undefined;
  try {
    const dir = (made = createReportDir(root, base));
    const charts = input.charts.map((c) => {
      const file = path.join(dir, path.basename(c.file));
      writeNewPrivateFile(file, c.png);
      return file;
    });
    const metricsJson = path.join(dir, 'metrics.json');
    writeNewPrivateFile(
      metricsJson,
      toJson({
        createdAt: createdAt.toISOString(),
        command: input.command,
        versions: input.versions,
        dataset: input.dataset,
        model: input.model,
        timingsMs: input.timings,
        metrics: input.metrics,
        charts: input.charts.map((c) => ({ file: path.basename(c.file), title: c.title })),
      }) + '\n',
    );
    const failuresCsv = path.join(dir, 'failures.csv');
    writeNewPrivateFile(failuresCsv, Papa.unparse({ fields: ['image', 'reason'], data: input.failures.map((f) => [f.image, f.reason]) }, { newline: '\n' }) + '\n');
    const markdown = path.join(dir, 'report.md');
    writeNewPrivateFile(
      markdown,
      renderReportMarkdown({ ...input, createdAt, charts: input.charts.map((c) => ({ file: path.basename(c.file), title: c.title })) }),
    );
    return { dir, metricsJson, markdown, failuresCsv, charts };
  } catch (e) {
    // A partial report (charts without metrics.json, a truncated report.md) would read as a finished one.
    removeUnfinished(made, madeAbove);
    if (e instanceof FacectlError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new FacectlError(ExitCode.STORE_ERROR, `cannot write the report (${code})`, root);
  }
}
