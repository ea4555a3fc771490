/**
 * Every failure a user can cause maps to one FacectlError with a stable exit code,
 * so scripts can tell "no face" from "unknown person" from "corrupt store".
 * The table is documented in the README; never renumber an existing code.
 */
export const ExitCode = {
  OK: 0,
  /** Unexpected internal error (a bug): the message says what failed. */
  INTERNAL: 1,
  /** Bad command-line usage: unknown option, missing argument, bad value. */
  USAGE: 2,
  /** No match: login found a face that matches nobody above the threshold; verify judged two faces DIFFERENT. */
  UNKNOWN_FACE: 3,
  /** No face found in an image where one was needed. */
  NO_FACE: 4,
  /** Several faces where exactly one was needed (use --largest). */
  MULTIPLE_FACES: 5,
  /** The file is not a decodable image: corrupt, truncated, empty, unsupported or too large. */
  BAD_IMAGE: 6,
  /** A face was found but is unusable: too small, too blurred, too low a detector score. */
  LOW_QUALITY: 7,
  /** An id that is not enrolled (remove, show) or an invalid id. */
  UNKNOWN_ID: 8,
  INVALID_ID: 9,
  /** The store was built with another model: run `facectl index rebuild --reembed`. */
  MODEL_MISMATCH: 10,
  /** The store is locked, damaged, or cannot be written (disk full, permissions). */
  STORE_ERROR: 11,
  /** enroll: the face already belongs to another identity (use --force). */
  DUPLICATE_IDENTITY: 12,
  /** A model file is missing, corrupt or not recognised. */
  MODEL_ERROR: 13,
  /** A file or directory argument does not exist or cannot be read. */
  NOT_FOUND: 14,
  /** The database of a postgres:// store cannot be reached (down, wrong host/port, refused login, no such database). */
  DB_UNREACHABLE: 15,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class FacectlError extends Error {
  constructor(
    readonly code: ExitCodeValue,
    message: string,
    /** The file the error is about, when there is one (shown before the message). */
    readonly file?: string,
  ) {
    super(message);
    this.name = 'FacectlError';
  }

  /** One line for the terminal: "<file>: <message>" or just the message (control characters in either shown escaped). */
  oneLine(): string {
    const text = printable(this.message.replace(/\s*\n\s*/g, ' '));
    return this.file ? `${printable(this.file)}: ${text}` : text;
  }
}

/**
 * A model that loads but cannot do its job: outputs of the wrong shape or count, or onnxruntime failing
 * to run it (a fixed batch size, an unsupported op). A user's file causes this, so it is exit 13, not a bug.
 */
export class ModelError extends FacectlError {
  constructor(
    readonly model: string,
    /** Why, without the model's name (the message is "model <model> cannot run: <reason>"). */
    readonly reason: string,
  ) {
    super(ExitCode.MODEL_ERROR, `model ${model} cannot run: ${reason}`);
    this.name = 'ModelError';
  }
}

export const isFacectlError = (e: unknown): e is FacectlError => e instanceof FacectlError;

/** The codes that fault one photo (its file, its image, its faces), not the model, the store or the command line. */
const PHOTO_CODES: ReadonlySet<ExitCodeValue> = new Set([ExitCode.NO_FACE, ExitCode.MULTIPLE_FACES, ExitCode.BAD_IMAGE, ExitCode.LOW_QUALITY, ExitCode.NOT_FOUND]);

/**
 * A failure of one photo, which a command going through many photos records for that photo and goes on.
 * Anything else (a model that cannot run, a store error) would fail every photo alike, so it must stop the command.
 */
export const isPhotoProblem = (e: unknown): e is FacectlError => isFacectlError(e) && PHOTO_CODES.has(e.code);

/** The first line of an error's message (libraries append stacks, source locations and hints below it). */
export const errorLine = (err: unknown): string => String((err as Error)?.message ?? err).split('\n')[0]!;

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EMFILE: 'too many open files',
};

export const errnoCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** "no space left on device (ENOSPC)" or the error's own message. */
export function describeIoError(err: unknown): string {
  const code = errnoCode(err);
  if (code && ERRNO_TEXT[code]) return `${ERRNO_TEXT[code]} (${code})`;
  return (err as Error)?.message?.split('\n')[0] ?? String(err);
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text for one terminal line: control characters (a newline, an escape sequence, DEL, C1, the Unicode line
 * separators) shown as `\n`, `\t`, `\xNN`, `\uNNNN`. File names come from anyone: `joe\nACCEPT admin.jpg`
 * printed raw would put a forged line in login's output, and an escape sequence would drive the terminal.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return ESCAPES[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/**
 * A value quoted in a message: double-quoted as JSON quotes it, at most `max` characters (code points) then
 * "…", and every character printable() escapes (and U+FFFD, what undecodable bytes became) as `\uNNNN`.
 * Input can be anything (an id of 100 MB, a photo read as a pairs file): the message stays short and on one line.
 */
export function quoted(text: string, max = 80): string {
  const chars = [...text];
  const json = JSON.stringify(chars.slice(0, max).join('')).replace(/[\u007f-\u009f\u2028\u2029\ufffd]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return chars.length > max ? `${json.slice(0, -1)}…"` : json;
}
