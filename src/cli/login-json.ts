/** The JSON form of a login's decisions: `facectl login --json` and `facectl serve` answer the same. */
import type { LoginResult } from '../app/login.js';

export function loginFacesJson(r: LoginResult) {
  return r.decisions.map((d) => ({
    decision: d.decision,
    id: d.id ?? null,
    name: d.name ?? null,
    score: d.score,
    candidates: d.candidates,
    box: d.face.box,
    quality: d.face.quality,
    enrolledPhotos: d.id ? (r.enrolled.get(d.id)?.rows ?? []).map((row) => row.sourcePath) : [],
  }));
}
