/**
 * What every command shares: global options, loading the pipeline with them, printing results as a
 * table or JSON, and turning errors into one line on stderr plus a documented exit code.
 */
import Table from 'cli-table3';
import stringWidth from 'string-width';
import { Command, CommanderError, Option } from 'commander';
import type { EmbeddedFace } from '../pipeline/types.js';
import { ExitCode, FacectlError, printable, type ExitCodeValue } from '../errors.js';
import { INDEX_KINDS } from '../index/types.js';
import type { FacePipeline, PipelineOptions } from '../pipeline/pipeline.js';
import type { Device } from '../pipeline/runtime.js';

export interface GlobalOptions {
  json?: boolean;
  threads?: string;
  device?: Device;
  model?: string;
  detector?: string;
  quiet?: boolean;
}

/**
 * Options every command accepts (added per command so they may appear after the subcommand), and the
 * checks every command's option values get before its action runs (checkOptionValues). `runsModels:
 * false` for the commands that run no model of their own (list, info, remove, store copy, models …):
 * there --threads and --device would do nothing, so they are refused (exit 2), as other idle options are.
 */
export function withGlobalOptions(cmd: Command, { runsModels = true }: { runsModels?: boolean } = {}): Command {
  return cmd
    .option('--json', 'print machine-readable JSON on stdout')
    // Where no model runs they are accepted only to be refused by name (checkOptionValues), so not offered in --help.
    .addOption(new Option('--threads <n>', `onnxruntime intra-op threads, ${THREADS_RANGE.join('..')} (0 = automatic: all cores, one for the tiny RFB-320 landmark model)`).hideHelp(!runsModels))
    // No commander default: "given" must be told apart from "left out" (the runtime's default is cpu).
    .addOption(new Option('--device <device>', 'inference device (default cpu)').choices(['cpu', 'cuda']).hideHelp(!runsModels))
    .option('-q, --quiet', 'no progress output on stderr')
    .hook('preAction', (_hooked, actionCommand) => {
      try {
        checkOptionValues(actionCommand, runsModels);
      } catch (err) {
        // The one-line error and its exit code, as from an action; the CommanderError only stops the command.
        throw new CommanderError(reportError(err), 'facectl.optionValue', err instanceof Error ? err.message : String(err));
      }
    });
}

/** The onnxruntime intra-op thread counts --threads takes (pipeline/runtime.ts checks the same). */
const THREADS_RANGE = [0, 256] as const;

/**
 * What every command checks of its options before it does anything: no option value is empty (stringOption),
 * --threads is a whole number in range, and --threads / --device are not given to a command that runs no model.
 */
function checkOptionValues(cmd: Command, runsModels: boolean): void {
  for (const o of cmd.options) {
    if (!o.required && !o.optional) continue; // a flag takes no value
    const value: unknown = cmd.getOptionValue(o.attributeName());
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') stringOption(o.long ?? o.flags, v);
  }
  cmd.registeredArguments.forEach((arg, i) => {
    if (!PATH_ARGUMENTS.has(arg.name())) return;
    const value: unknown = cmd.processedArgs[i];
    for (const v of Array.isArray(value) ? value : [value])
      if (v === '') throw new FacectlError(ExitCode.USAGE, `<${arg.name()}> is empty: give ${STORE_ARGUMENTS.has(arg.name()) ? 'a folder or a postgres:// URL' : 'a path'}`);
  });
  const opts = cmd.opts<GlobalOptions>();
  threadsOption(opts.threads);
  if (!runsModels) refuseIdleOptions({ '--threads': opts.threads, '--device': opts.device }, `for ${commandPath(cmd)}: it runs no model`);
}

/**
 * Positional arguments that name files, folders or stores: an empty one (`login "$PHOTO"` with the variable
 * unset) is a usage error, not "no such file" with no name (exit 14 naming nothing). Ids are not here: an
 * empty id is an invalid id (exit 9), checked with the id rules.
 */
const STORE_ARGUMENTS = new Set(['from', 'to']);
const PATH_ARGUMENTS = new Set(['image', 'images', 'image1', 'image2', 'paths', 'file', ...STORE_ARGUMENTS]);

/** "facectl models list" for messages. */
const commandPath = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

/**
 * A string option's value, refused when empty: `--sheet ''`, `--photos "$UNSET"` must not read as "not
 * given" (the bundled samples, the default folder) nor as the current folder. Every option value of every
 * command goes through here before its action runs (withGlobalOptions); a command reading a value should
 * still test `!== undefined`, not its truth.
 */
export function stringOption(name: string, raw: string | undefined): string | undefined {
  if (raw === '')
    throw new FacectlError(
      ExitCode.USAGE,
      name === '--store' ? 'the store location is empty: give a folder or a postgres:// URL' : `${name} is empty: give a value or leave the option out`,
    );
  return raw;
}

/** --threads as a number (undefined when not given), or a usage error. */
export const threadsOption = (raw: string | undefined): number | undefined => numberOption('--threads', raw, THREADS_RANGE[0], THREADS_RANGE[1], { integer: true });

/**
 * A command that only groups others (`index`, `models`, `store`; also the program itself): run alone, or with
 * a word that is none of them, it says so in one line (exit 2), as every other parse error, instead of printing
 * its help on stderr.
 */
export function requireSubcommand(group: Command): Command {
  // `index help [command]` is answered here: commander's help command printed the whole help for an unknown one.
  return group.helpCommand(false).allowExcessArguments().action((_opts: unknown, cmd: Command) => {
    const names = cmd.commands.map((c) => c.name());
    const root = !cmd.parent;
    const where = commandPath(cmd).replace(/^\S+ ?/, '');
    const [word, about] = cmd.args;
    if (word === 'help' && (about === undefined || names.includes(about))) return (about === undefined ? cmd : cmd.commands.find((c) => c.name() === about)!).help();
    const unknown = word === 'help' ? about : word;
    const reason =
      unknown !== undefined ? (root ? `unknown command '${unknown}'` : `unknown command '${where} ${unknown}' (commands: ${names.join(', ')})`)
      : root ? `missing command (facectl demo to try it on sample photos; facectl --help lists them all)`
      : `'${where}' needs a command: ${names.join(', ')}`;
    cmd.error(reason, { exitCode: 2, code: 'facectl.missingCommand' });
  });
}

/** Which detector runs without --detector: blazeface, or on a store the one its faces were found with. */
export const DETECTOR_DEFAULT = { plain: 'blazeface', store: "the store's; blazeface for a new store", eval: "blazeface; with --calibrate, the store's" } as const;

/** `--detector <id>` for every command that finds faces, with the default that command really uses. */
export function withDetectorOption(cmd: Command, byDefault: string = DETECTOR_DEFAULT.plain): Command {
  return cmd.option('--detector <id>', `face detector (default ${byDefault}; \`facectl models list\` shows them all)`);
}

/**
 * `--index <kind>` for the commands that search or build the index. Checked by commander: the kind
 * becomes the index file's name (index.<kind>), so only the known kinds may reach the store.
 */
export function indexOption(): Option {
  return new Option('--index <kind>', 'search index: auto (flat, or hnsw for very large galleries), flat or hnsw').choices(['auto', ...INDEX_KINDS]).default('auto');
}

/**
 * The pipeline with the command's runtime options. It and onnxruntime load here, on first use, so that
 * commands that need no model (list, info, --help) start without them.
 */
export async function loadPipeline(opts: GlobalOptions, extra: PipelineOptions = {}): Promise<FacePipeline> {
  const threads = threadsOption(opts.threads); // Number('') would be 0, automatic
  const [{ configureRuntime }, { FacePipeline }] = await Promise.all([import('../pipeline/runtime.js'), import('../pipeline/pipeline.js')]);
  configureRuntime({ threads, device: opts.device });
  return FacePipeline.load({ embedder: opts.model, detector: opts.detector, ...extra });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, jsonReplacer, 2) + '\n');
}

/** Float32Array → plain array with rounded values; everything else unchanged. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Float32Array) return Array.from(value, (v) => Math.round(v * 1e6) / 1e6);
  return value;
}

/** An embedding for JSON at full float32 precision (9 significant digits read back as the same float32). */
export const float32Values = (v: Float32Array): number[] => Array.from(v, (x) => Number(x.toPrecision(9)));

/** A face with its embedding, as `embed --json` and `serve`'s embed answer give it. */
export const embeddedFaceJson = (f: EmbeddedFace) => ({ box: f.box, score: f.score, landmarks: f.landmarks, embedding: float32Values(f.embedding) });

/** Up to this many rows a table is cli-table3's; it lays out each cell against every earlier row (time in rows²). */
export const TABLE_CHUNK_ROWS = 200;

/**
 * A text table; each cell shown printable, a cell given as lines (string[]) one line each. Longer than
 * TABLE_CHUNK_ROWS rows, it is drawn here line by line in cli-table3's layout (its borders, one space of
 * padding, left-aligned, widths by string-width as it measures): the same text in linear time (`list` of
 * 10⁵ people took 12 minutes as one cli-table3 table).
 */
export function table(head: string[], rows: (string | number | string[])[][]): string {
  const cells = rows.map((r) => r.map((cell) => (Array.isArray(cell) ? cell.map(printable).join('\n') : printable(String(cell)))));
  // cli-table3 merges the cells a short row lacks into one: drawn here only when every row is whole.
  if (cells.length <= TABLE_CHUNK_ROWS || cells.some((r) => r.length !== head.length)) {
    const t = new Table({ head, style: { head: [], border: [] } });
    for (const r of cells) t.push(r);
    return t.toString();
  }
  const widths = head.map((h) => stringWidth(h));
  for (const r of cells) r.forEach((c, i) => { for (const line of c.split('\n')) widths[i] = Math.max(widths[i]!, stringWidth(line)); });
  const rule = (left: string, mid: string, right: string) => left + widths.map((w) => '─'.repeat(w + 2)).join(mid) + right;
  const lines = (row: string[]) => {
    const split = row.map((cell) => cell.split('\n'));
    const height = Math.max(...split.map((l) => l.length));
    return Array.from({ length: height }, (_, k) => `│${split.map((l, i) => ` ${l[k] ?? ''}${' '.repeat(widths[i]! - stringWidth(l[k] ?? ''))} `).join('│')}│`);
  };
  const out = [rule('┌', '┬', '┐'), ...(head.length ? [...lines(head), rule('├', '┼', '┤')] : [])];
  cells.forEach((r, i) => {
    if (i) out.push(rule('├', '┼', '┤'));
    out.push(...lines(r));
  });
  out.push(rule('└', '┴', '┘'));
  return out.join('\n');
}

export const fmt = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

/**
 * A score and the threshold it was compared with, printed with `digits` decimals, or more where rounding
 * would contradict the decision (`verify X X --threshold 1`: 0.99999994 is not 1.0000, and the answer is
 * DIFFERENT): the shown numbers always agree with `passed` (score ≥ threshold).
 */
export function fmtVersus(score: number, threshold: number, passed: boolean, digits = 4): [string, string] {
  for (let d = digits; d <= 12; d++) {
    const [s, t] = [fmt(score, d), fmt(threshold, d)];
    if (Number(s) >= Number(t) === passed) return [s, t];
  }
  return [String(score), String(threshold)];
}

/** Progress and warnings go to stderr so stdout stays clean for --json and pipes. */
export function note(opts: GlobalOptions, message: string): void {
  if (!opts.quiet) process.stderr.write(printable(message) + '\n');
}

/**
 * "-" names the photo on standard input (`login -`, `verify a.jpg -`, `detect -`); it can be read only
 * once. (Spelled out here rather than imported from pipeline/decode.ts, which loads sharp.)
 */
export function stdinPhotoAtMostOnce(files: readonly string[]): void {
  if (files.filter((f) => f === '-').length > 1) throw new FacectlError(ExitCode.USAGE, 'only one photo can come from standard input ("-")');
}

/** USAGE naming each option given (not undefined, not false) that does nothing `where`, so it is not silently ignored. */
export function refuseIdleOptions(given: Record<string, unknown>, where: string): void {
  const idle = Object.entries(given).filter(([, v]) => v !== undefined && v !== false).map(([flag]) => flag);
  if (idle.length) throw new FacectlError(ExitCode.USAGE, `${idle.join(', ')} ${idle.length > 1 ? 'do' : 'does'} nothing ${where}`);
}

/**
 * A number written in decimal (`0.5`, `-1`, `.25`, `1e-2`), else NaN. Number() also takes `0x1`, `0b1`,
 * `0o1`, `Infinity` and surrounding spaces, none of which an option value means on purpose.
 */
export function decimalNumber(raw: string): number {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : NaN;
}

/**
 * Parse a number option with bounds, or fail with a usage error naming the option. `integer` for counts,
 * sizes and seeds: a fraction there is a typo, and code downstream (array lengths, seeded RNGs) would
 * fail on it or silently round it.
 */
export function numberOption(name: string, raw: string | undefined, min: number, max: number, { integer = false } = {}): number | undefined {
  if (raw === undefined) return undefined;
  const v = decimalNumber(raw); // not Number(): '' is 0 and '0x1' is 1 to it
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    throw new FacectlError(ExitCode.USAGE, `${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got "${raw}"`);
  return v;
}

/**
 * A photo that failed in a command that goes on with the others (detect, embed): the README's one line
 * on stderr, `facectl: <file>: <reason>`, also with -q (an error, not progress), and the result's fields.
 */
export function photoFailed(file: string, err: FacectlError): { error: string; exitCode: ExitCodeValue } {
  process.stderr.write(`facectl: ${err.file ? err.oneLine() : `${file}: ${err.oneLine()}`}\n`);
  return { error: err.message, exitCode: err.code };
}

/** Run a command body: FacectlError → one line on stderr + its exit code; anything else is a bug (exit 1). */
export function action<A extends unknown[]>(body: (...args: A) => Promise<ExitCodeValue | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await body(...args);
      process.exitCode = code ?? ExitCode.OK;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

export function reportError(err: unknown): ExitCodeValue {
  if (err instanceof FacectlError) {
    process.stderr.write(`facectl: ${err.oneLine()}\n`);
    // An internal error raised on purpose (a state that should not happen) is a bug all the same: its stack too.
    if (err.code === ExitCode.INTERNAL && process.env.FACECTL_DEBUG) process.stderr.write(`${err.stack}\n`);
    return err.code;
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    process.stderr.write(`facectl: disk full (${e.message.split('\n')[0]})\n`);
    return ExitCode.STORE_ERROR;
  }
  process.stderr.write(`facectl: internal error: ${e?.message?.split('\n')[0] ?? String(err)}\n`);
  if (process.env.FACECTL_DEBUG) process.stderr.write(`${e?.stack}\n`);
  return ExitCode.INTERNAL;
}
