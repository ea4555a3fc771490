/**
 * The ways a bench can run PRelu side by side (src/models/onnx/prelu-rewrite.ts): always the default
 * (folded into the next convolutions); `--prelu-unfolded` adds the split form (Relu, two Muls, Add),
 * `--prelu-as-is` the model files' own PRelu ops. Sessions are keyed on these options, so each variant
 * gets its own.
 */
import type { RuntimeOptions } from '../../src/pipeline/runtime.js';

export interface PreluVariant {
  /** '' for the default; appended to row labels otherwise. */
  suffix: string;
  label: string;
  options: Pick<RuntimeOptions, 'preluRewrite' | 'preluFold'>;
}

export const DEFAULT_PRELU: PreluVariant = { suffix: '', label: 'default', options: { preluRewrite: true, preluFold: true } };

export function preluVariants(argv: readonly string[]): PreluVariant[] {
  const variants = [DEFAULT_PRELU];
  if (argv.includes('--prelu-unfolded'))
    variants.push({ suffix: '/unfolded', label: 'PRelu split, not folded', options: { preluRewrite: true, preluFold: false } });
  if (argv.includes('--prelu-as-is'))
    variants.push({ suffix: '/as-file', label: 'PRelu as in the model files', options: { preluRewrite: false, preluFold: true } });
  return variants;
}
