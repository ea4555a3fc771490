/** The JSON form of a login's decisions: `facectl login --json` and `facectl serve` answer the same. */
import type { LoginResult } from '../app/login.js';

/** The enrolled faces of an accepted identity (none for UNKNOWN), for a check by eye. */
export const enrolledRows = (r: LoginResult, id: string | undefined) => (id ? (r.enrolled.get(id)?.rows ?? []) : []);

export function loginFacesJson(r: LoginResult) {
  return r.decisions.map((d) => ({
    decision: d.decision,
    id: d.id ?? null,
    name: d.name ?? null,
    score: d.score,
    candidates: d.candidates,
    box: d.face.box,
    quality: d.face.quality,
    facesInPhoto: d.facesInPhoto,
    enrolledPhotos: enrolledRows(r, d.id).map((row) => row.sourcePath),
  }));
}
