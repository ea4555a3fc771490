/**
 * Worker threads spin only within a run (src/pipeline/runtime.ts): once a run has returned, a facectl
 * session's idle pool uses no CPU, so it cannot starve the next stage's session or the user's other
 * work. The control, a session that spins without onnxruntime's `force_spinning_stop`, proves the
 * measurement sees the spinning it looks for. Spinning changes when threads wake, not what they compute:
 * outputs equal a sleeping pool's to the bit, so the eval cache key does not depend on it.
 */
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveBuiltin } from '../../src/models/resolve.js';
import { configureRuntime, getSession, releaseSessions } from '../../src/pipeline/runtime.js';

afterAll(async () => {
  await releaseSessions();
  configureRuntime({ threads: 0, spinning: true });
});

/** CPU milliseconds this process uses in the `ms` after the session's last run (five runs first). */
async function cpuAfterRuns(session: ort.InferenceSession, ms: number): Promise<number> {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(3 * 112 * 112).fill(0.25), [1, 3, 112, 112]) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  const before = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

describe('onnxruntime worker threads', () => {
  it('give the same outputs to the bit whether they spin or sleep between ops', async () => {
    const { path } = await resolveBuiltin('faceplugin');
    let seed = 7;
    const input = Float32Array.from({ length: 4 * 3 * 112 * 112 }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
    const outputs: Float32Array[] = [];
    const sessions: ort.InferenceSession[] = [];
    for (const spinning of [true, false]) {
      configureRuntime({ threads: 2, spinning });
      const session = await getSession(path);
      sessions.push(session);
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [4, 3, 112, 112]) });
      outputs.push(out[session.outputNames[0]!]!.data as Float32Array);
    }
    expect(sessions[0], 'spinning and sleeping must be two sessions, or the comparison proves nothing').not.toBe(sessions[1]);
    expect(outputs[0]!.length).toBe(4 * 512);
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(outputs[0]!).equals(bytes(outputs[1]!))).toBe(true);
  });

  it('do not spin once a run has returned (2 threads; control: spinning left on after runs)', async () => {
    const { path } = await resolveBuiltin('faceplugin');
    const control = await ort.InferenceSession.create(path, {
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      logSeverityLevel: 4,
      extra: { session: { intra_op: { allow_spinning: '1' } } },
    });
    const controlMs = await cpuAfterRuns(control, 500);
    await control.release();

    configureRuntime({ threads: 2, spinning: true });
    const ours = await getSession(path);
    const oursMs = await cpuAfterRuns(ours, 500);
    expect(controlMs, 'the control session should spin after its runs').toBeGreaterThan(15);
    expect(oursMs, `facectl's session used ${oursMs} ms of CPU while idle`).toBeLessThan(5);
  });
});
