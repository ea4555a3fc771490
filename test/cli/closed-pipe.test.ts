/**
 * A reader that stops early (`| head`) closes facectl's stdout: facectl stops quietly with its exit code
 * so far, not with an EPIPE stack trace. The output here (every face of two sample photos with their
 * embeddings, ~150 KB) is larger than a pipe holds, so the write that fails is certain.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI_ENTRY } from '../helpers/cli.js';
import { hasSamples, sample, SKIP_NO_SAMPLES } from '../helpers/samples.js';
import { repoRoot } from '../helpers/shared.js';

describe.skipIf(!hasSamples)(`stdout closed by the reader${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  it('exit 0 and nothing on stderr about EPIPE', () => {
    const cli = `"${process.execPath}" --import tsx "${CLI_ENTRY}"`;
    const script = `${cli} embed "${sample(1)}" "${sample(2)}" --all-faces --json | head -c 1 > /dev/null; echo "rc=\${PIPESTATUS[0]}"`;
    const r = spawnSync('bash', ['-c', script], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout.trim()).toBe('rc=0');
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\bat .*\.(js|ts|mjs)\b/);
  });
});
