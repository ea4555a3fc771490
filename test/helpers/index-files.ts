/** Damaging a saved index file on purpose (test/index/factory.test.ts, test/cli/index-damage.test.ts). */
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Writes `file` to `out` (default: in place) with its header JSON replaced by `edit(header)`; the length
 * prefix follows the new header, the labels and payload stay as they were.
 */
export function rewriteIndexHeader(file: string, edit: (header: Record<string, unknown>) => unknown, out = file): string {
  const bytes = readFileSync(file);
  const length = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.subarray(12, 12 + length).toString('utf8')) as Record<string, unknown>;
  const json = Buffer.from(JSON.stringify(edit(header)), 'utf8');
  const prefix = Buffer.alloc(12);
  bytes.copy(prefix, 0, 0, 8);
  prefix.writeUInt32LE(json.length, 8);
  writeFileSync(out, Buffer.concat([prefix, json, bytes.subarray(12 + length)]));
  return out;
}

/** A copy of `h` with key `from` renamed `to` (a flipped bit in the key's name). */
export const renameKey = (h: Record<string, unknown>, from: string, to: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k === from ? to : k, v]));
