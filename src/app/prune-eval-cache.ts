/**
 * The eval embedding cache's share of `facectl models prune`: a model's folder stays until something
 * proves this install can no longer ask for it. Its key (embeddingCacheKey) names the embedder, its
 * fingerprint (weights, recipe and detector) and the detection revision; a folder goes when that
 * revision is not this facectl's, when no embedder of that id is built in or registered, or when the
 * fingerprint is none that embedder gives with any detector, mirrored face or not. When a weights
 * sha256 is unknown (a built-in model never converted here and not shipped), its folders stay.
 */
import { rm } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { cachedModelFolders, defaultCacheDir } from '../eval/embedding-cache.js';
import type { PrunedEntry } from '../models/prune.js';
import { knownBuiltinShas, sizeOf } from '../models/prune.js';
import { embedderFingerprint, type EmbedderSpec } from '../models/registry.js';
import { allEmbedders, ensembleSha256 } from '../models/resolve.js';
import { listUserDetectors, readUserModels } from '../models/user-models.js';
import { BUILTIN_DETECTORS } from '../pipeline/detectors/registry.js';
import { DETECTION_REVISION } from '../pipeline/detectors/types.js';

export interface EvalCachePruneReport {
  cacheDir: string;
  removed: PrunedEntry[];
}

/** Every fingerprint each embedder can have on this install; an id maps to undefined when a weights sha256 is unknown. */
async function fingerprintsById(): Promise<Map<string, Set<string> | undefined>> {
  const specs = await allEmbedders();
  const builtinShas = await knownBuiltinShas();
  const detectors = [...BUILTIN_DETECTORS.map((d) => d.id), ...(await listUserDetectors()).map((d) => `${d.id}:${d.source.sha256.slice(0, 16)}`)];
  const shasOf = (spec: EmbedderSpec): string[] =>
    'builtin' in spec.source ? [...(builtinShas.get(spec.source.builtin) ?? [])] : 'sha256' in spec.source ? [spec.source.sha256] : [];
  const fingerprints = (spec: EmbedderSpec, detector: string, flip: boolean): string[] | undefined => {
    const s = { ...spec, flip };
    if (!spec.members) {
      const shas = shasOf(spec);
      return shas.length ? shas.map((sha) => embedderFingerprint(s, sha, detector)) : undefined;
    }
    // An ensemble's weights stand-in comes from its members' fingerprints (with the ensemble's flip).
    let combos: { id: string; fingerprint: string; weight: number }[][] = [[]];
    for (const m of spec.members) {
      const member = specs.find((x) => x.id === m.id);
      const fps = member && fingerprints(member, detector, flip);
      if (!fps) return undefined;
      combos = combos.flatMap((c) => fps.map((fingerprint) => [...c, { id: m.id, fingerprint, weight: m.weight }]));
    }
    return combos.map((c) => embedderFingerprint(s, ensembleSha256(c), detector));
  };
  const out = new Map<string, Set<string> | undefined>();
  for (const spec of specs) {
    let set: Set<string> | undefined = new Set();
    for (const detector of detectors)
      for (const flip of [true, false]) {
        const fps = fingerprints(spec, detector, flip);
        if (!fps) set = undefined;
        else for (const fp of fps) set?.add(fp);
      }
    out.set(spec.id, set);
  }
  return out;
}

/** Why a model key is of no use to this install, or undefined when it may be. */
export function staleReason(modelKey: string, live: Map<string, Set<string> | undefined>): string | undefined {
  const revision = /-r(\d+)(?:-x\d+)?$/.exec(modelKey);
  if (!revision) return 'eval embeddings under a key this facectl does not write';
  if (Number(revision[1]) !== DETECTION_REVISION) return `eval embeddings of detection revision ${revision[1]} (this facectl: ${DETECTION_REVISION})`;
  // The longest id the key starts with, followed by a 16-hex fingerprint.
  const ids = [...live.keys()].filter((id) => new RegExp(`^${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{16}-`).test(modelKey));
  const id = ids.sort((a, b) => b.length - a.length)[0];
  if (id === undefined) return `eval embeddings of model "${/^(.+?)-[0-9a-f]{16}-/.exec(modelKey)?.[1] ?? modelKey}", no longer built in or registered`;
  const fingerprints = live.get(id);
  if (fingerprints && !fingerprints.has(modelKey.slice(id.length + 1, id.length + 17))) return `eval embeddings of another version of model "${id}" (other weights or recipe)`;
  return undefined;
}

export async function pruneEvalCache(options: { dryRun?: boolean; cacheDir?: string } = {}): Promise<EvalCachePruneReport> {
  await readUserModels(); // refuses (exit 13) a user models folder someone else could write, as models prune does
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const folders = cachedModelFolders(cacheDir);
  const live = folders.length ? await fingerprintsById() : new Map();
  const removed: PrunedEntry[] = [];
  for (const { dir, modelKey } of folders) {
    const reason = modelKey === undefined ? (readdirSync(dir).length === 0 ? 'empty eval-cache folder' : undefined) : staleReason(modelKey, live);
    if (!reason) continue;
    removed.push({ path: dir, bytes: await sizeOf(dir), reason });
    if (!options.dryRun) await rm(dir, { recursive: true, force: true });
  }
  return { cacheDir, removed };
}
