/**
 * `facectl store copy <from> <to>`: every face of one gallery, its model binding and its threshold (or
 * its lack of one) into another, empty one (files ↔ PostgreSQL, either way) in one commit, then both read back and compared: the same count, the same
 * rows (sha256 of their canonical JSON) and the same embeddings (sha256 of the float32 bytes).
 */
import { createHash } from 'node:crypto';
import { ExitCode, FacectlError } from '../errors.js';
import type { Gallery, GalleryExport, NewFace } from '../gallery/index.js';

export interface CopyResult {
  from: string;
  to: string;
  faces: number;
  identities: number;
  rowsSha256: string;
  embeddingsSha256: string;
}

/** JSON with object keys sorted, so two backends that build rows in another key order hash alike. */
const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));

/** Checksums of a gallery's content, independent of how the backend numbers its rows. */
export function galleryDigest(g: GalleryExport): { faces: number; identities: number; rowsSha256: string; embeddingsSha256: string } {
  const rows = g.rows.map(({ embeddingIndex: _, ...row }) => row);
  const canonical = canonicalJson({ model: g.model, threshold: g.threshold, rows });
  const bytes = Buffer.from(g.embeddings.buffer, g.embeddings.byteOffset, g.embeddings.byteLength);
  return {
    faces: g.rows.length,
    identities: new Set(g.rows.map((r) => r.id)).size,
    rowsSha256: createHash('sha256').update(canonical).digest('hex'),
    embeddingsSha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

export async function copyGallery(from: Gallery, to: Gallery): Promise<CopyResult> {
  const source = await from.exportAll();
  if (!source.rows.length || !source.model) throw new FacectlError(ExitCode.USAGE, `nothing to copy: ${from.location} holds no faces`);
  const dim = source.model.dimension;
  const faces: NewFace[] = source.rows.map(({ embeddingIndex: _, modelId: __, ...row }, i) => ({ ...row, embedding: source.embeddings.subarray(i * dim, (i + 1) * dim) }));
  await to.mutate(async (draft) => {
    // Checked under the target's writer lock, where an enroll from another terminal cannot land after it.
    const held = (await draft.rows()).length;
    if (held > 0) throw new FacectlError(ExitCode.STORE_ERROR, `${to.location} already holds ${held} face(s): copy into an empty store`);
    await draft.addFaces(source.model!, faces);
    // The source's threshold, none included: an emptied target may still hold one calibrated for its old
    // faces, which the copy must not keep (logins on it would differ, and the check below would fail).
    await draft.setThreshold(source.threshold);
  });
  const want = galleryDigest(source);
  const got = galleryDigest(await to.exportAll());
  for (const key of ['faces', 'identities', 'rowsSha256', 'embeddingsSha256'] as const)
    if (want[key] !== got[key])
      throw new FacectlError(ExitCode.STORE_ERROR, `the copy in ${to.location} differs from ${from.location} (${key}: ${String(want[key])} → ${String(got[key])}); remove it and copy again`);
  return { from: from.location, to: to.location, ...want };
}
