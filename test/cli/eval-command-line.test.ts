/** The command eval records in report.md and metrics.json: each argument shell-quoted, any password masked. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commandLine } from '../../src/cli/eval.js';

describe('eval commandLine', () => {
  it('quotes each argument so a shell reads the same arguments back', () => {
    const args = ['eval', '--dataset', 'my data', '--pairs', "it's pairs.txt", '--reports', '', '--seed', '7', '--identification=pairs', '$HOME', 'a*b'];
    const line = commandLine(args);
    expect(line).toBe(`facectl eval --dataset 'my data' --pairs 'it'\\''s pairs.txt' --reports '' --seed 7 --identification=pairs '$HOME' 'a*b'`);
    // What sh makes of it: the very same arguments.
    const back = execFileSync('sh', ['-c', `printf '%s\\0' ${line.slice('facectl '.length)}`], { encoding: 'utf8' }).split('\0').slice(0, -1);
    expect(back).toEqual(args);
  });

  it('an argument with a control character is $\'…\' with it escaped: the line stays one, and bash reads the same argument back', () => {
    const args = ['eval', '--dataset', "ev\n```\n# x\u001b[2J it's"];
    const line = commandLine(args);
    expect(line).toBe("facectl eval --dataset $'ev\\n```\\n# x\\x1b[2J it\\'s'");
    expect(line).not.toMatch(/[\u0000-\u001f]/);
    const back = execFileSync('bash', ['-c', `printf '%s\\0' ${line.slice('facectl '.length)}`], { encoding: 'utf8' }).split('\0').slice(0, -1);
    expect(back).toEqual(args);
  });

  it('keeps the password masking', () => {
    const line = commandLine(['eval', '--calibrate', '--store', 'postgres://u:S3cret@db/x', '--store=postgres://u:S3cret@db/x']);
    expect(line).not.toContain('S3cret');
    expect(line).toBe("facectl eval --calibrate --store 'postgres://u:***@db/x' '--store=postgres://u:***@db/x'");
  });
});
