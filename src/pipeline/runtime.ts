/**
 * onnxruntime-node sessions, created once per process per model file and reused by every stage.
 * CPU by default; `--device cuda` asks for onnxruntime's CUDA execution provider, which exists only
 * when onnxruntime-node's install script ran with ONNXRUNTIME_NODE_INSTALL=cuda12 (README: GPU).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { errorLine, ExitCode, FacectlError, ModelError } from '../errors.js';
import { derivedDirs } from '../models/cache.js';
import { openOptimizedSession } from '../models/onnx/optimized-cache.js';
import { cachedPreluRewrite, type CachedPreluRewrite } from '../models/onnx/prelu-cache.js';

// onnxruntime-node ≥ 1.2x on Linux keeps usage telemetry: a device id and queued events in
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime (XDG_CACHE_HOME), uploaded to Microsoft when online.
// facectl sends nothing anywhere, so it is off unless the user set the variable; onnxruntime reads it
// when the first session creates its environment (test/pipeline/telemetry.test.ts).
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export type Device = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** Intra-op threads; 0 lets onnxruntime choose (all cores). */
  threads: number;
  device: Device;
  /**
   * Run constant-slope PRelu as Relu, Mul and Add (src/models/onnx/prelu-rewrite.ts): the same
   * function within float32 rounding; MobileFaceNet-class embedders run 1.6–1.8× faster. Off only to measure
   * the difference (`npm run bench:embedders -- --prelu-as-is`).
   */
  preluRewrite: boolean;
  /**
   * With preluRewrite, move each PRelu's per-channel factor into the convolutions that read it, where
   * they all are convolutions (one Mul fewer per PRelu, ~10 % faster). Off only to measure the difference
   * (`npm run bench:embedders -- --prelu-unfolded`).
   */
  preluFold: boolean;
  /**
   * Let a session's worker threads busy-wait briefly between the ops of one run, and stop them when the
   * run ends (onnxruntime's `force_spinning_stop`). Waking a sleeping worker for every small op is what
   * made two threads barely faster than one for the 112×112 embedders; no thread spins outside a run, so
   * idle sessions never steal a core from the running one. Off only to measure the difference
   * (`npm run bench:pipeline -- --no-spin`, also on bench:embedders and bench:login).
   */
  spinning: boolean;
}

/**
 * How sessions run a model file beyond the file itself, as the eval cache key's suffix: '' (the file),
 * '-x1' (PRelu split into Relu/Mul/Add), '-x2' (PRelu folded into the next convolutions, the default).
 * Results equal within float32 rounding, but the eval cache keeps them apart (src/app/embed-images.ts),
 * so a reported figure always comes from embeddings computed the way facectl computes them now.
 */
export function executionRevision(): string {
  if (!runtime.preluRewrite) return '';
  return runtime.preluFold ? '-x2' : '-x1';
}

/**
 * How long an idle worker spins within a run before it sleeps. On this 2-core machine (`npm run
 * bench:pipeline -- --no-spin`, ensemble-noflip, 2026-12-07, other durations through a throwaway switch):
 * onnxruntime's default spin made photos 1.10× faster on an idle machine but 0.88× with the other core
 * busy; 10 µs gave 1.15× idle and 1.01× busy.
 */
const SPIN_DURATION_US = 10;
const runtime: RuntimeOptions = { threads: 0, device: 'cpu', preluRewrite: true, preluFold: true, spinning: true };
const sessions = new Map<string, Promise<ort.InferenceSession>>();

/** Set process-wide runtime options; call before the first session is created. */
export function configureRuntime(options: Partial<RuntimeOptions>): void {
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 0 || options.threads > 256)
      throw new FacectlError(ExitCode.USAGE, `--threads must be an integer 0..256, got ${options.threads}`);
    runtime.threads = options.threads;
  }
  if (options.device !== undefined) {
    if (options.device !== 'cpu' && options.device !== 'cuda')
      throw new FacectlError(ExitCode.USAGE, `--device must be cpu or cuda, got ${String(options.device)}`);
    runtime.device = options.device;
  }
  if (options.preluRewrite !== undefined) runtime.preluRewrite = options.preluRewrite;
  if (options.preluFold !== undefined) runtime.preluFold = options.preluFold;
  if (options.spinning !== undefined) runtime.spinning = options.spinning;
}

export interface SessionHints {
  /**
   * Intra-op threads when the user left --threads at 0 (auto). The smallest models gain nothing reliable
   * from a second thread: RFB-320's 64×64 landmark net took 0.46 ms on one thread and 0.36 or 0.55 ms on
   * two in two runs (`npx tsx bench/ort-threads.ts`, 2026-12-07), so it keeps to one.
   */
  autoThreads?: number;
}

/** The session for a model file, created on first use. */
export function getSession(modelPath: string, hints: SessionHints = {}): Promise<ort.InferenceSession> {
  const threads = runtime.threads > 0 ? runtime.threads : (hints.autoThreads ?? 0);
  const key = `${modelPath}|${runtime.device}|${threads}|${executionRevision()}|${runtime.spinning ? 'spin' : 'sleep'}`;
  let session = sessions.get(key);
  if (!session) {
    session = createSession(modelPath, threads);
    sessions.set(key, session);
    session.catch(() => sessions.delete(key));
  }
  return session;
}

async function createSession(modelPath: string, threads: number): Promise<ort.InferenceSession> {
  ort.env.logLevel = 'fatal'; // the process-wide native logger too (set before the first session)
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionProviders: runtime.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    // One inference at a time per session: inter-op parallelism only adds thread churn here.
    executionMode: 'sequential',
    // onnxruntime's own logger would print multi-line native errors; ours are one line with a hint.
    logSeverityLevel: 4,
  };
  if (threads > 0) {
    options.intraOpNumThreads = threads;
    options.interOpNumThreads = 1;
  }
  // Three sessions (detector, mesh, embedder) each own a thread pool. Left spinning after a run, idle
  // pools busy-wait and starve the running one (148 → 48 ms per photo with a busy second core when that
  // stopped), hence force_spinning_stop. Within a run, a short spin before sleeping (SPIN_DURATION_US)
  // keeps the fast wake-up between ops without the loss of spinning on a core another process needs.
  options.extra = {
    session: runtime.spinning
      ? { intra_op: { allow_spinning: '1', spin_duration_us: String(SPIN_DURATION_US) }, inter_op: { allow_spinning: '1' }, force_spinning_stop: '1' }
      : { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } },
  };
  try {
    const bytes = await readFile(modelPath).catch(() => undefined);
    // An unreadable file: onnxruntime reports it in its own words.
    if (!bytes) return await ort.InferenceSession.create(modelPath, options);
    const rewrite = runtime.preluRewrite ? await rewrittenModel(bytes, runtime.preluFold) : undefined;
    if (rewrite) {
      // A rewrite onnxruntime refuses must not cost the user the model: the file itself is tried next.
      const session = await openSession(rewrite.bytes, options, rewrite.sha256).catch(() => undefined);
      if (session) {
        rewrittenPrelu.set(session, { rewritten: rewrite.rewritten, folded: rewrite.folded });
        return session;
      }
    }
    // From bytes, onnxruntime resolves a tensor's external data file against the process's working
    // directory, not the model's folder (a user model naming `.ssh/id_rsa` read it from $HOME): user models
    // with any are refused at `models add` and at use (onnx/external-data.ts), built-in ones have none.
    // A file that fails from bytes loads from its path, for onnxruntime's reason.
    return await openSession(bytes, options).catch(() => ort.InferenceSession.create(modelPath, options));
  } catch (err) {
    const msg = errorLine(err);
    if (runtime.device === 'cuda')
      throw new FacectlError(
        ExitCode.MODEL_ERROR,
        `cannot start the CUDA execution provider (${msg}); fetch it with ONNXRUNTIME_NODE_INSTALL=cuda12 node ${ortInstallScript()} (README: GPU), or use --device cpu`,
      );
    throw new FacectlError(ExitCode.MODEL_ERROR, `cannot load model ${modelPath}: ${msg}`);
  }
}

const rewrittenPrelu = new WeakMap<ort.InferenceSession, { rewritten: number; folded: number }>();

/**
 * How many PRelu ops of the model file this session runs rewritten, and how many of those folded into
 * the next convolutions (both 0: the file as it is).
 */
export const sessionPreluRewrite = (session: ort.InferenceSession): { rewritten: number; folded: number } =>
  rewrittenPrelu.get(session) ?? { rewritten: 0, folded: 0 };

/**
 * The model with its PRelu ops rewritten, or undefined when it has none (or is not a model protobuf can
 * decode: onnxruntime then says why). The rewrite is kept in the models cache (prelu-cache.ts), so only
 * the first process pays for it.
 */
async function rewrittenModel(bytes: Uint8Array, fold: boolean): Promise<CachedPreluRewrite | undefined> {
  try {
    const dirs = derivedDirs();
    const rewrite = await cachedPreluRewrite(bytes, fold, dirs.prelu, dirs.root);
    return rewrite.rewritten ? rewrite : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A session for a model's bytes. On the CPU, onnxruntime's optimized graph is kept in the models cache
 * and reused by later processes (src/models/onnx/optimized-cache.ts); CUDA sessions optimize every time.
 */
async function openSession(model: Uint8Array, options: ort.InferenceSession.SessionOptions, modelSha256?: string): Promise<ort.InferenceSession> {
  if (runtime.device !== 'cpu') return ort.InferenceSession.create(model, options);
  const dirs = derivedDirs();
  return (await openOptimizedSession(model, options, dirs.ort, modelSha256, dirs.root)).session;
}

/**
 * session.run with onnxruntime's failures (a fixed batch size, an input shape or op it cannot take)
 * turned into exit 13 naming the model: a model file the user gave is the cause, not a bug in facectl.
 */
export async function runSession(
  session: ort.InferenceSession,
  feeds: ort.InferenceSession.FeedsType,
  model: string,
): Promise<ort.InferenceSession.ReturnType> {
  try {
    return await session.run(feeds);
  } catch (err) {
    throw new ModelError(model, onnxruntimeReason(err));
  }
}

/**
 * onnxruntime's error as one readable line: "Reshape node 'x': The input tensor cannot be reshaped …"
 * instead of its status prefix and the C++ source location and assertion it failed.
 */
export function onnxruntimeReason(err: unknown): string {
  const line = errorLine(err);
  const m = /running (\w+) node\. Name:'([^']*)' Status Message: (?:\S+:\d+ .*? was false\. )?(.*)$/.exec(line);
  return m ? `${m[1]} node '${m[2]}': ${m[3]}` : line.replace(/\s*\S*onnxruntime_src\S*\s*/g, ' ').trim();
}

/** onnxruntime-node's own install script, which fetches the CUDA provider files (README: GPU). */
function ortInstallScript(): string {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'script', 'install');
  } catch {
    return 'node_modules/onnxruntime-node/script/install';
  }
}

/** Run a session on one float32 input; returns every output by name. */
export async function runModel(
  session: ort.InferenceSession,
  input: Float32Array,
  dims: readonly number[],
  model = 'model',
): Promise<Record<string, ort.Tensor>> {
  const tensor = new ort.Tensor('float32', input, dims);
  return runSession(session, { [session.inputNames[0]!]: tensor }, model);
}

/** Drop every session (tests, or a model file replaced on disk). */
export async function releaseSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.all(all.map(async (s) => (await s.catch(() => null))?.release()));
}
