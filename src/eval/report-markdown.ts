/** report.md: everything a reader needs to trust (or question) one evaluation run. */
import { printable } from '../errors.js';
import type { EvalMetrics } from './eval-result.js';
import type { IdentificationReport } from './evaluate-identification.js';
import type { VerificationReport } from './evaluate-verification.js';
import { duration, foldsAveraged, meanPlusMinus, num, pct, rateLabel } from './format.js';
import type { VerificationMetrics } from './metrics.js';
import type { ImageFailure } from './scoring.js';

export interface ChartImage {
  /** File name inside the report folder, e.g. "roc.png". */
  file: string;
  title: string;
  png: Buffer;
}

export interface ReportContext {
  metrics: EvalMetrics;
  charts: readonly Pick<ChartImage, 'file' | 'title'>[];
  failures: readonly ImageFailure[];
  command: string;
  versions: Record<string, string>;
  dataset: {
    name: string; path: string; identities?: number; images?: number; pairsFile?: { path: string; sha256: string };
    /** What the folder scan left out that could have been photos, in words (eval's planning says what). */
    notEvaluated?: string;
  };
  /** The embedder, its fingerprint and the detector that found the faces. */
  model: { id: string; hash?: string; detector?: string };
  /** Milliseconds per phase, e.g. { embedding: 81234, metrics: 512 }. */
  timings: Record<string, number>;
  /** Pipeline throughput: images embedded (not from the cache) and images per second. */
  throughput?: { imagesEmbedded: number; imagesFromCache: number; imagesPerSecond: number };
  createdAt: Date;
}

/**
 * Markdown table; cells printable (control characters escaped: a file name from a downloaded dataset
 * carried a newline and an escape byte into report.md) and their pipes escaped. `align`: 'l' or 'r' per
 * column (default: first left, rest right).
 */
export function mdTable(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const cell = (s: string) => printable(s).replace(/\|/g, '\\|');
  const side = (i: number) => align?.[i] ?? (i === 0 ? 'l' : 'r');
  return [
    `| ${head.map(cell).join(' | ')} |`,
    `| ${head.map((_, i) => (side(i) === 'l' ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

function verificationTable(all: VerificationMetrics, valid: VerificationMetrics | null, foldCount: number): string {
  const both = (f: (m: VerificationMetrics) => string) => [f(all), valid ? f(valid) : 'n/a'];
  const kFold = (m: VerificationMetrics) =>
    !m.kFold ? 'n/a' : m.kFold.mean === null ? `n/a: ${m.kFold.reason}` : meanPlusMinus(m.kFold.mean, m.kFold.standardError);
  const rows: string[][] = [
    ['Pairs (genuine / impostor)', ...both((m) => `${m.pairs} (${m.genuinePairs} / ${m.impostorPairs})`)],
    [`${foldCount}-fold accuracy, mean ± standard error`, ...both(kFold)],
    [`${foldCount}-fold accuracy, sample std`, ...both((m) => pct(m.kFold?.sampleStd))],
    ['ROC AUC', ...both((m) => num(m.rocAuc, 4))],
    ['EER (threshold)', ...both((m) => `${pct(m.eer.rate)} (${num(m.eer.threshold, 3)})`)],
  ];
  all.tprAtFpr.forEach((t, k) => {
    rows.push([
      `TPR @ FPR ≤ ${rateLabel(t.targetFpr)} (threshold)`,
      ...both((m) => {
        const x = m.tprAtFpr[k]!;
        return x.tpr === null ? `n/a: ${x.reason}` : `${pct(x.tpr)} (${num(x.threshold, 3)})`;
      }),
    ]);
  });
  rows.push(['Best single threshold (accuracy on all pairs)', ...both((m) => `${num(m.bestThreshold.threshold, 4)} (${pct(m.bestThreshold.accuracy)})`)]);
  return mdTable(['Metric', 'All pairs', 'Valid pairs only'], rows);
}

function verificationSection(v: VerificationReport): string {
  const folds = v.allPairs.kFold;
  const out = [
    '## Verification',
    '',
    `Protocol: ${v.protocol.description}.`,
    v.protocol.generation
      ? `Generated pairs: seed ${v.protocol.generation.seed}, at most ${v.protocol.generation.genuinePerIdentity} genuine pairs per identity, ` +
        `impostors sampled uniformly from pairs of different identities, as many as genuine pairs in each fold; ` +
        (v.protocol.generation.identityDisjointFolds
          ? 'folds are identity-disjoint.'
          : `folds ${v.protocol.generation.foldsWithGlobalImpostors.map((f) => f + 1).join(', ')} had fewer than two identities and drew impostors from all identities.`)
      : '',
    `Pairs with a failed image: ${v.failedPairs}. Handling: ${v.failureHandling}.`,
    v.validPairsOnlyReason ? `Valid pairs only: not computed (${v.validPairsOnlyReason}).` : '',
    '',
    verificationTable(v.allPairs, v.validPairsOnly, foldsAveraged(v)),
    '',
    `${foldsAveraged(v)}-fold accuracy follows the LFW protocol: for each fold, the threshold with the best accuracy on the other folds is applied to that fold. ` +
      '"±" is the standard error of the mean (sample std / √folds), as on the LFW results page; TPR @ FPR is the highest TPR whose FPR does not exceed the target, ' +
      'reported as n/a when there are fewer than 1/target impostor pairs.',
  ];
  if (folds && folds.folds.length > 0) {
    out.push(
      '',
      '<details><summary>Per-fold thresholds and accuracies (all pairs)</summary>',
      '',
      mdTable(['Fold', 'Pairs', 'Threshold (from other folds)', 'Accuracy'], folds.folds.map((f) => [String(f.fold + 1), String(f.pairs), num(f.threshold, 4), pct(f.accuracy)])),
      '',
      '</details>',
    );
  }
  return out.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}

function identificationSection(id: IdentificationReport): string {
  const valid = id.closedSetValidProbesOnly;
  const out = [
    '## Identification',
    '',
    `Split: ${id.description}.`,
    `Enrolled: ${id.enrolledIdentities} identities` +
      (id.failedTemplates.length ? ` (${id.failedTemplates.length} not enrolled: every gallery image failed)` : '') +
      `. Failed probes: ${id.failedMatedProbes} mated, ${id.failedNonMatedProbes} non-mated.`,
    '',
    '### Closed set',
    '',
    mdTable(
      ['Metric', 'All probes', 'Valid probes only'],
      [
        ['Probes', String(id.closedSet.probes), valid ? String(valid.probes) : 'n/a'],
        ['Rank-1', pct(id.closedSet.rank1), pct(valid?.rank1)],
        ['Rank-5', pct(id.closedSet.rank5), pct(valid?.rank5)],
        [`Rank-${id.closedSet.cmc.ranks.length}`, pct(id.closedSet.cmc.rates.at(-1)), pct(valid?.cmc.rates.at(-1))],
      ],
    ),
    '',
    'Ties are ranked pessimistically: a gallery identity with exactly the true identity\'s score is ranked ahead of it.',
  ];
  if (id.openSet) {
    out.push(
      '',
      '### Open set',
      '',
      mdTable(
        ['Target FPIR', 'DIR', 'Achieved FPIR', 'Threshold', 'Non-mated accepted'],
        id.openSet.dirAtFpir.map((d) =>
          d.dir === null
            ? [rateLabel(d.targetFpir), `n/a: ${d.reason}`, '', '', '']
            : [rateLabel(d.targetFpir), pct(d.dir), pct(d.fpir, 3), num(d.threshold, 4), `${d.falseAccepts} / ${d.nonMatedProbes}`],
        ),
      ),
    );
    const c = id.openSet.confusion;
    if (c) {
      out.push(
        '',
        `Accept / reject outcomes at threshold ${num(c.threshold, 4)} (${id.openSet.thresholdSource}):`,
        '',
        mdTable(
          ['Probe', 'Outcome', 'Count', 'Share'],
          [
            ['mated', 'accepted as the right identity', String(c.mated.correctAccept), pct(c.mated.correctAccept / c.mated.total)],
            ['mated', 'accepted as a wrong identity', String(c.mated.wrongIdentityAccept), pct(c.mated.wrongIdentityAccept / c.mated.total)],
            ['mated', 'rejected', String(c.mated.reject), pct(c.mated.reject / c.mated.total)],
            ['non-mated', 'falsely accepted', String(c.nonMated.falseAccept), pct(c.nonMated.falseAccept / c.nonMated.total)],
            ['non-mated', 'correctly rejected', String(c.nonMated.correctReject), pct(c.nonMated.correctReject / c.nonMated.total)],
          ],
          ['l', 'l', 'r', 'r'],
        ),
      );
    }
  }
  return out.join('\n');
}

function failureSection(ctx: ReportContext): string {
  const f = ctx.metrics.failures;
  const listed = ctx.failures.slice(0, 50);
  return [
    '## Images without an embedding',
    '',
    `${f.images} of ${f.processed} images produced no embedding. ${f.handling}`,
    '',
    f.images > 0 ? mdTable(['Reason', 'Images'], Object.entries(f.byReason).sort((a, b) => b[1] - a[1]).map(([r, n]) => [r, String(n)])) : '',
    '',
    listed.length > 0 ? mdTable(['Image', 'Reason'], listed.map((x) => [x.image, x.reason]), ['l', 'l']) : '',
    ctx.failures.length > listed.length ? `\n…and ${ctx.failures.length - listed.length} more: see failures.csv.` : '',
  ]
    .filter((l, i, a) => !(l === '' && a[i - 1] === ''))
    .join('\n');
}

export function renderReportMarkdown(ctx: ReportContext): string {
  const m = ctx.metrics;
  const parts = [
    `# Evaluation: ${printable(ctx.dataset.name)} · ${ctx.model.id}`,
    '',
    `Created ${ctx.createdAt.toISOString()}.`,
    '',
    '## Run',
    '',
    ...codeBlock('sh', ctx.command),
    '',
    mdTable(
      ['Item', 'Value'],
      [
        ['Dataset', `${ctx.dataset.name} (${ctx.dataset.path})`],
        ...(ctx.dataset.identities !== undefined ? [['Identities', String(ctx.dataset.identities)]] : []),
        ...(ctx.dataset.images !== undefined ? [['Images', String(ctx.dataset.images)]] : []),
        ...(ctx.dataset.pairsFile ? [['Pairs file', `${ctx.dataset.pairsFile.path} (sha256 ${ctx.dataset.pairsFile.sha256})`]] : []),
        ...(ctx.dataset.notEvaluated ? [['Not evaluated', ctx.dataset.notEvaluated]] : []),
        ['Model', ctx.model.hash ? `${ctx.model.id} (${ctx.model.hash})` : ctx.model.id],
        ...(ctx.model.detector ? [['Detector', ctx.model.detector]] : []),
        ...Object.entries(ctx.versions).map(([k, v]) => [k, v]),
        ...Object.entries(ctx.timings).map(([k, ms]) => [`Time: ${k}`, duration(ms)]),
        ...(ctx.throughput
          ? [['Throughput', `${ctx.throughput.imagesPerSecond.toFixed(1)} images/s (${ctx.throughput.imagesEmbedded} embedded, ${ctx.throughput.imagesFromCache} from cache)`]]
          : []),
      ],
      ['l', 'l'],
    ),
    '',
  ];
  if (m.verification) parts.push(verificationSection(m.verification), '');
  if (m.identification) parts.push(identificationSection(m.identification), '');
  if (m.calibration) {
    const c = m.calibration;
    parts.push(
      '## Threshold calibration',
      '',
      c.basis === 'open-set'
        ? `Target FPIR ${rateLabel(c.targetRate)} (non-mated probes' best gallery score): threshold **${num(c.threshold, 4)}**. ${c.note}` +
            (c.tpr !== null ? `; DIR at this threshold ${pct(c.tpr)} (${c.truePositives} of ${c.positives} mated probes).` : '.')
        : `Target FPR ${rateLabel(c.targetRate)}: threshold **${num(c.threshold, 4)}**. ${c.note}` +
            (c.tpr !== null ? `; TPR at this threshold ${pct(c.tpr)} (${c.truePositives} of ${c.positives} genuine pairs).` : '.'),
      '',
      ...(c.written === false ? ['**Not written to the store:** too few negatives to measure the target rate.', ''] : []),
    );
  }
  parts.push(failureSection(ctx), '');
  if (ctx.charts.length > 0) {
    parts.push('## Charts', '');
    for (const c of ctx.charts) parts.push(`### ${c.title}`, '', `![${c.title}](${c.file})`, '');
  }
  return parts.join('\n');
}

/** A fenced code block whose fence is longer than any run of backticks in `text`, which cannot close it early. */
function codeBlock(language: string, text: string): string[] {
  const fence = '`'.repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return [`${fence}${language}`, text, fence];
}
