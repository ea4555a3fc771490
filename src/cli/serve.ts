/**
 * `facectl serve`: logins (and embeddings) for a long-running caller, one JSON request per line on stdin,
 * one JSON answer per line on stdout, in order. The models are loaded and the gallery opened once, so a
 * kiosk or a script pays a warm login per photo instead of a process start (README: Login latency).
 *
 * Requests: {"op": "login", "image": "<path>" | "imageBase64": "<the file's bytes>", "top"?: k,
 * "allFaces"?: bool} · {"op": "enroll", "identity": "<id>", "images": ["<path>", …], "name"?, "largest"?,
 * "skipBad"?, "force"?} · {"op": "remove", "identity": "<id>"} · {"op": "embed", image…, "allFaces"?: bool} ·
 * {"op": "ping"}; any "id" is echoed.
 * Answers: {"id", "ok": true, "op", …} or {"id", "ok": false, "exitCode", "error"} with the exit code the
 * one-shot command would give. A bad request never stops the service; end of input does.
 */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import type { LoginService } from '../app/login-service.js';
import { errorLine, ExitCode, FacectlError, quoted, type ExitCodeValue } from '../errors.js';
import { ownStdioName, stdinIsDirectory } from '../own-stdio.js';
import type { FacePipeline, PhotoInput } from '../pipeline/pipeline.js';
import { DETECTOR_DEFAULT, action, indexOption, embeddedFaceJson, note, numberOption, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';
import { boundedLines } from './json-lines.js';
import { loginFacesJson } from './login-json.js';
import { openStore, storeOption } from './store-option.js';
import { loadPipelineForStore } from './store-pipeline.js';

interface ServeOpts extends GlobalOptions {
  store?: string;
  threshold?: string;
  index: 'auto' | 'flat' | 'hnsw';
}

type Request = Record<string, unknown>;

export function registerServe(program: Command): void {
  withDetectorOption(withGlobalOptions(
    storeOption(
      program
        .command('serve')
        .description('answer login / enroll / remove / embed requests, one JSON object per line on stdin, one JSON answer per line on stdout, with the models kept loaded')
        .option('--threshold <t>', "cosine threshold (default: the store's calibrated one, else the model's)")
        .addOption(indexOption()),
    ),
  ), DETECTOR_DEFAULT.store).action(action(async (opts: ServeOpts): Promise<ExitCodeValue> => {
    const threshold = numberOption('--threshold', opts.threshold, -1, 1);
    // Reading a directory ends the input at once (serve < /tmp exited 0 having answered nothing).
    if (stdinIsDirectory()) throw usage('standard input is a directory: send one JSON request per line (facectl serve < requests.jsonl, or a pipe)');
    const gallery = await openStore(opts, { mustExist: true, search: true });
    let service: LoginService;
    let pipeline: FacePipeline;
    try {
      pipeline = await loadPipelineForStore(opts, gallery);
      service = await (await import('../app/login-service.js')).LoginService.open(pipeline, gallery, { threshold, index: opts.index });
    } catch (err) {
      await gallery.close();
      throw err;
    }
    const info = service.context.info;
    note(opts, `serving ${gallery.location} (${info.model?.id ?? pipeline.embedderInfo!.spec.id}, ${info.identities} identities): one JSON request per line on stdin`);
    try {
      for await (const item of boundedLines(process.stdin, MAX_LINE_BYTES)) {
        if ('line' in item && !item.line.trim()) continue;
        const reply = 'line' in item ? await answer(item.line, service, pipeline) : tooLong(item.tooLong);
        process.stdout.write(answerLine(reply));
      }
    } finally {
      await service.close();
    }
    return ExitCode.OK;
  }));
}

/**
 * The longest request line read: a photo's base64 (4/3 of its bytes) within decode's 256 MB limit, plus
 * room for the rest of the request, and below V8's ~512 MB string limit.
 */
const MAX_LINE_BYTES = 384 * 2 ** 20;


/**
 * One answer line. Serialising can fail (a string past V8's limit, an echoed id of hundreds of MB): that
 * request gets exit 2 "answer too large", with its id when that still fits, and the service goes on.
 */
export function answerLine(reply: Record<string, unknown>): string {
  try {
    return `${JSON.stringify(reply)}\n`;
  } catch (err) {
    const fallback = (id: unknown) => ({ id, ok: false, exitCode: ExitCode.USAGE, error: `answer too large to send (${errorLine(err)})` });
    try {
      return `${JSON.stringify(fallback(reply.id ?? null))}\n`;
    } catch {
      return `${JSON.stringify(fallback(null))}\n`;
    }
  }
}

const tooLong = (bytes: number) => ({
  id: null,
  ok: false,
  exitCode: ExitCode.BAD_IMAGE,
  error: `request line of ${(bytes / 2 ** 20).toFixed(0)} MiB skipped: the longest read is ${MAX_LINE_BYTES / 2 ** 20} MiB (photos are limited to 256 MB)`,
});

async function answer(line: string, service: LoginService, pipeline: FacePipeline): Promise<Record<string, unknown>> {
  let request: Request;
  try {
    const parsed: unknown = JSON.parse(line);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    request = parsed as Request;
  } catch {
    return { id: null, ok: false, exitCode: ExitCode.USAGE, error: 'not a JSON object: send one request per line, e.g. {"op":"login","image":"photo.jpg"}' };
  }
  // Only what can be echoed as it came (a deeply nested value would overflow JSON.stringify's stack).
  const id = request.id ?? null;
  if (id !== null && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id)))
    return { id: null, ok: false, exitCode: ExitCode.USAGE, error: '"id" must be a string, a number or null' };
  if (typeof request.op !== 'string') return { id, ok: false, exitCode: ExitCode.USAGE, error: '"op" must be one of login, enroll, remove, embed or ping' };
  const started = performance.now();
  try {
    const result = await run(request, service, pipeline);
    return { id, ok: true, op: request.op, ...result, ms: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    if (err instanceof FacectlError) return { id, ok: false, exitCode: err.code, error: err.oneLine() };
    return { id, ok: false, exitCode: ExitCode.INTERNAL, error: `internal error: ${errorLine(err)}` };
  }
}

const usage = (message: string) => new FacectlError(ExitCode.USAGE, message);

async function photo(request: Request): Promise<PhotoInput> {
  const { image, imageBase64 } = request;
  if ((image === undefined) === (imageBase64 === undefined)) throw usage('give the photo as "image" (a path) or "imageBase64" (the file\'s bytes), one of them');
  if (image !== undefined) {
    if (typeof image !== 'string' || !image || image === '-') throw usage('"image" must be a file path');
    await refuseOwnStdio(image);
    return image;
  }
  if (typeof imageBase64 !== 'string') throw usage('"imageBase64" must be a string');
  // A browser's canvas.toDataURL() gives `data:image/jpeg;base64,…`: the bytes are what follows the comma.
  const text = imageBase64.replace(/^data:[^,]*;base64,/, '');
  // Buffer.from drops what is not base64 ("!!!!" gave 0 bytes, then "empty file"): checked first.
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || text.length % 4 === 1) throw usage('"imageBase64" is not valid base64 (the file\'s bytes, or a data: URL)');
  return { bytes: Buffer.from(text, 'base64'), label: '(imageBase64)' };
}

/**
 * The service's own standard input, output or error under another name (`/dev/stdin`, `/dev/fd/0`,
 * `/proc/self/fd/1`, a link to one of them): decode would read it as a pipe, eating the requests that
 * follow (or, for stdout, its own answers) and blocking. Refused by what the path is (device and inode,
 * links followed), not by its name. A path that cannot be stat'ed is left to decode (not found, …).
 */
async function refuseOwnStdio(file: string): Promise<void> {
  let st;
  try {
    st = await stat(file);
  } catch {
    return;
  }
  const own = ownStdioName(st);
  if (own) throw new FacectlError(ExitCode.USAGE, `image must not be the service's own standard ${own}`, file);
}

const flag = (request: Request, key: string): boolean => {
  const v = request[key];
  if (v !== undefined && typeof v !== 'boolean') throw usage(`"${key}" must be true or false`);
  return v === true;
};

/** Each op's fields besides "id" and "op". */
const FIELDS: Record<string, readonly string[]> = {
  login: ['image', 'imageBase64', 'top', 'allFaces'],
  embed: ['image', 'imageBase64', 'allFaces'],
  enroll: ['identity', 'images', 'name', 'largest', 'skipBad', 'force'],
  remove: ['identity'],
  ping: [],
};

/** Edit distance, case differences counting half (so "allfaces" is nearest "allFaces"). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const x = a[i - 1]!, y = b[j - 1]!;
      const sub = x === y ? 0 : x.toLowerCase() === y.toLowerCase() ? 0.5 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + sub));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Fields the op does not take are refused (exit 2), not ignored: a misspelt "allfaces" or a per-request
 * "threshold" would otherwise be answered as if it were not there (a login accepted at the default
 * threshold that the caller meant to raise).
 */
function refuseUnknownFields(request: Request, op: string): void {
  const allowed = ['id', 'op', ...FIELDS[op]!];
  const unknown = Object.keys(request).filter((k) => !allowed.includes(k));
  if (!unknown.length) return;
  const key = unknown[0]!;
  if (key === 'threshold')
    throw usage('"threshold" is not a request field: the login threshold is an option of the service (facectl serve --threshold t), the same for every request');
  if (op === 'enroll' && (key === 'image' || key === 'imageBase64'))
    throw usage('"images" must be a list of photo paths (enroll keeps the paths, so no imageBase64)');
  const others = unknown.length > 1 ? ` (and ${unknown.length - 1} more)` : '';
  let hint = '';
  if (key.length <= 64) {
    const [best] = FIELDS[op]!.map((k) => ({ k, d: distance(key, k) })).sort((x, y) => x.d - y.d);
    if (best && best.d <= Math.max(1, Math.floor(best.k.length / 3))) hint = `: did you mean "${best.k}"?`;
  }
  throw usage(`unknown field ${quoted(key)}${others} for ${op}${hint} (${op} takes ${allowed.map((k) => `"${k}"`).join(', ')})`);
}

async function run(request: Request, service: LoginService, pipeline: FacePipeline): Promise<Record<string, unknown>> {
  if (typeof request.op === 'string' && Object.hasOwn(FIELDS, request.op)) refuseUnknownFields(request, request.op);
  switch (request.op) {
    case 'login': {
      const top = request.top === undefined ? 3 : request.top;
      if (!Number.isInteger(top) || (top as number) < 1 || (top as number) > 1000) throw usage('"top" must be an integer from 1 to 1000');
      const r = await service.login(await photo(request), { top: top as number, allFaces: flag(request, 'allFaces') });
      return { accepted: r.decisions.some((d) => d.decision === 'ACCEPT'), threshold: r.threshold, faces: loginFacesJson(r) };
    }
    case 'embed': {
      const image = await photo(request);
      // As a login: a store re-embedded with another model since the service started is exit 10 (restart
      // it), not embeddings labelled with a model the store no longer uses.
      await service.refresh();
      const { faces } = await pipeline.processPhoto(image, flag(request, 'allFaces') ? 'all' : 'largest');
      return { model: service.context.info.model, faces: faces.map(embeddedFaceJson) };
    }
    case 'enroll': {
      // Paths only: a store keeps each enrolled photo's path, so that `index rebuild --reembed` can read it again.
      const { identity, images, name } = request;
      if (typeof identity !== 'string') throw usage('"identity" must be the id to enroll under');
      if (!Array.isArray(images) || !images.length || images.some((f) => typeof f !== 'string' || !f || f === '-'))
        throw usage('"images" must be a list of photo paths (enroll keeps the paths, so no imageBase64)');
      if (name !== undefined && typeof name !== 'string') throw usage('"name" must be a string');
      for (const file of images as string[]) await refuseOwnStdio(file);
      const { enroll } = await import('../app/enroll.js');
      // Reconnects after a lost connection (a database restart), as a login does; recreates a deleted store, as `facectl enroll` does.
      await service.refresh({ create: true });
      // Through the service, so that the next login uses what this commit wrote instead of reading the store again.
      const r = await service.write((gallery) =>
        enroll(pipeline, gallery, identity, images as string[], {
          name,
          largest: flag(request, 'largest'),
          skipBad: flag(request, 'skipBad'),
          force: flag(request, 'force'),
        }),
      );
      return { enrolled: r.id, name: r.name, added: r.added.length, alreadyEnrolled: r.alreadyEnrolled, skipped: r.skipped, warnings: r.warnings };
    }
    case 'remove': {
      const { identity } = request;
      if (typeof identity !== 'string') throw usage('"identity" must be the id to remove');
      await service.refresh();
      const { removeIdentity } = await import('../app/gallery-ops.js');
      const faces = await service.write((gallery) => removeIdentity(gallery, identity));
      return { removed: identity, faces };
    }
    case 'ping': {
      await service.refresh();
      const { info } = service.context;
      return { store: service.gallery.location, model: info.model, identities: info.identities, faces: info.faces, generation: info.generation };
    }
    default:
      throw usage(`unknown op ${quoted(request.op as string)}: login, enroll, remove, embed or ping`);
  }
}
