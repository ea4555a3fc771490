/**
 * The ways a bench can run sessions side by side, each against facectl's default (PRelu folded into the
 * next convolutions, worker threads spinning within a run): `--prelu-unfolded` adds the split form
 * (Relu, two Muls, Add), `--prelu-as-is` the model files' own PRelu ops (src/models/onnx/prelu-rewrite.ts),
 * `--no-spin` worker threads that sleep between ops (src/pipeline/runtime.ts). Sessions are keyed on these
 * options, so each variant gets its own.
 */
import type { RuntimeOptions } from '../../src/pipeline/runtime.js';

export interface RuntimeVariant {
  /** '' for the default; appended to row labels otherwise. */
  suffix: string;
  label: string;
  options: Pick<RuntimeOptions, 'preluRewrite' | 'preluFold' | 'spinning'>;
}

export const DEFAULT_RUNTIME: RuntimeVariant = { suffix: '', label: 'default', options: { preluRewrite: true, preluFold: true, spinning: true } };

export function runtimeVariants(argv: readonly string[]): RuntimeVariant[] {
  const variants = [DEFAULT_RUNTIME];
  const plus = (suffix: string, label: string, options: Partial<RuntimeVariant['options']>) =>
    variants.push({ suffix, label, options: { ...DEFAULT_RUNTIME.options, ...options } });
  if (argv.includes('--prelu-unfolded')) plus('/unfolded', 'PRelu split, not folded', { preluFold: false });
  if (argv.includes('--prelu-as-is')) plus('/as-file', 'PRelu as in the model files', { preluRewrite: false });
  if (argv.includes('--no-spin')) plus('/no-spin', 'worker threads sleep between ops', { spinning: false });
  return variants;
}
