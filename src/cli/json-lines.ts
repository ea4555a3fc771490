/**
 * Lines of a stream for `facectl serve`, each at most `maxBytes`: readline keeps a line of any length,
 * and a line past V8's string limit (~512 MB) crashed the service. A longer line is skipped up to its
 * newline and reported as one `{ tooLong: bytes }` item, so the caller answers it and goes on.
 */
export type JsonLine = { line: string } | { tooLong: number };

export async function* boundedLines(input: AsyncIterable<Buffer | string>, maxBytes: number): AsyncGenerator<JsonLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let skipped = -1; // bytes of the over-long line so far; -1 when not skipping
  const take = (piece: Buffer): void => {
    if (skipped >= 0) skipped += piece.length;
    else if (size + piece.length > maxBytes) {
      skipped = size + piece.length;
      parts = [];
      size = 0;
    } else {
      parts.push(piece);
      size += piece.length;
    }
  };
  let first = true;
  const end = (): JsonLine => {
    const text = skipped >= 0 ? '' : Buffer.concat(parts, size).toString('utf8').replace(/\r$/, '');
    // A byte-order mark that some editors and Windows tools put before the first line is not part of it.
    const out: JsonLine = skipped >= 0 ? { tooLong: skipped } : { line: first ? text.replace(/^\uFEFF/, '') : text };
    first = false;
    parts = [];
    size = 0;
    skipped = -1;
    return out;
  };
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      take(buf.subarray(start, nl));
      yield end();
      start = nl + 1;
    }
    if (start < buf.length) take(buf.subarray(start));
  }
  if (size > 0 || skipped >= 0) yield end();
}
