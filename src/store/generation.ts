/** Serialising a draft into the files of the next generation, and the in-memory snapshot they describe. */
import { encodeDataCsv } from './csv.js';
import type { StoreDraft } from './draft.js';
import { allocDump } from './dump.js';
import type { GenerationFile } from './commit.js';
import { sha256Hex } from './load.js';
import { encodeManifest, MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest.js';
import { DATA_FILE, DUMP_FILE, MANIFEST_FILE } from './names.js';
import { StoreSnapshot } from './snapshot.js';

const EMPTY_SHA256 = sha256Hex(new Uint8Array(0));

/** Generation 0: what a store that has never been committed looks like (only ever held in memory). */
export function emptySnapshot(dir: string): StoreSnapshot {
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    generation: 0,
    embeddingsGeneration: 0,
    model: null,
    threshold: null,
    counts: { identities: 0, faces: 0 },
    files: { [DATA_FILE]: { sha256: EMPTY_SHA256, bytes: 0 }, [DUMP_FILE]: { sha256: EMPTY_SHA256, bytes: 0 } },
    updatedAt: new Date(0).toISOString(),
  };
  return new StoreSnapshot(dir, manifest, [], new Float32Array(0));
}

export interface BuiltGeneration {
  generation: number;
  /** data.csv, embeddings.f32 when it changed, and manifest.json last (the order of the renames). */
  files: GenerationFile[];
  snapshot: StoreSnapshot;
}

/** The next generation after `draft.base`; the dump is rewritten only when embeddings changed. */
export function buildGeneration(draft: StoreDraft, now: Date, baseGeneration = draft.base.generation): BuiltGeneration {
  const base = draft.base;
  const generation = baseGeneration + 1;
  const { rows, model, threshold } = draft.result();
  const rewriteDump = draft.embeddingsChanged || base.generation === 0;
  const files: GenerationFile[] = [];

  const data = Buffer.from(encodeDataCsv(rows), 'utf8');
  files.push({ name: DATA_FILE, content: data });

  let dumpDigest = base.manifest.files[DUMP_FILE];
  let dumpVectors = base.dumpVectors;
  let embeddingsGeneration = base.manifest.embeddingsGeneration;
  if (rewriteDump) {
    const dimension = model?.dimension ?? 0;
    const dump = allocDump({ dimension, rows: rows.length, generation, modelId: model?.id ?? '', modelHash: model?.hash ?? '' });
    draft.writeVectors(dump.vectors, dimension);
    const bytes = dump.finish();
    files.push({ name: DUMP_FILE, content: bytes });
    dumpDigest = { sha256: sha256Hex(bytes), bytes: bytes.length };
    dumpVectors = dump.vectors;
    embeddingsGeneration = generation;
  }

  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    generation,
    embeddingsGeneration,
    model,
    threshold,
    counts: { identities: new Set(rows.map((r) => r.id)).size, faces: rows.length },
    files: { [DATA_FILE]: { sha256: sha256Hex(data), bytes: data.length }, [DUMP_FILE]: dumpDigest },
    updatedAt: now.toISOString(),
  };
  files.push({ name: MANIFEST_FILE, content: Buffer.from(encodeManifest(manifest), 'utf8') });
  const snapshot = new StoreSnapshot(base.dir, manifest, rows, dumpVectors);
  if (base.identitiesDerived) snapshot.inheritIdentities(base, draft.baseOrigins());
  return { generation, files, snapshot };
}
