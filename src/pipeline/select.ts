/** Which face of a photo a command means when it wants one. */
import type { DetectedFace, RgbImage } from './types.js';

/**
 * 'largest': the biggest face (login, enroll --largest: the person in front of the camera).
 * 'center': the face nearest the photo's centre among faces at least a quarter of the largest one's area
 * (dataset photos such as LFW are centred on their subject, with bystanders around).
 */
export type FacePolicy = 'largest' | 'center';

export function selectFace<F extends DetectedFace>(faces: readonly F[], image: Pick<RgbImage, 'width' | 'height'>, policy: FacePolicy): F | undefined {
  if (!faces.length) return undefined;
  const area = (f: F) => f.box.width * f.box.height;
  const largest = faces.reduce((a, b) => (area(b) > area(a) ? b : a));
  if (policy === 'largest') return largest;
  const cx = image.width / 2, cy = image.height / 2;
  const dist = (f: F) => Math.hypot(f.box.x + f.box.width / 2 - cx, f.box.y + f.box.height / 2 - cy);
  return faces.filter((f) => area(f) >= area(largest) / 4).reduce((a, b) => (dist(b) < dist(a) ? b : a));
}
