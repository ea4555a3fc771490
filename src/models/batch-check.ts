/**
 * Proof that a batch rewrite (onnx/free-batch.ts) changed nothing: the rewritten model run on K faces at
 * once must give, row for row, what the original gives run B (its fixed batch) at a time. Also the
 * check that a user's model runs at all, so a model that cannot run is refused when it is added
 * rather than in the middle of an enrollment.
 */
import ort from 'onnxruntime-node';

/** Sessions made here never print onnxruntime's own warnings (initialisers listed as inputs, …). */
const QUIET_SESSION: ort.InferenceSession.SessionOptions = { logSeverityLevel: 4, intraOpNumThreads: 1, interOpNumThreads: 1 };

/** A one-thread session for checks; neither its log nor the process-wide native logger prints warnings. */
export function quietSession(model: Uint8Array): Promise<ort.InferenceSession> {
  ort.env.logLevel = 'fatal';
  return ort.InferenceSession.create(model, QUIET_SESSION);
}

export interface BatchProof {
  equal: boolean;
  /** max |rewritten − original| / max |original| over every output row. */
  maxRelativeError: number;
  rows: number;
}

/** Deterministic inputs in −1..1 that differ from row to row (a batch mix-up cannot go unseen). */
export function probeInput(rows: number, per: number): Float32Array {
  const x = new Float32Array(rows * per);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.7311 + Math.floor(i / per) * 1.37) * 0.9;
  return x;
}

/** The first output of `session` for one input tensor of `dims`. */
async function runFirst(session: ort.InferenceSession, data: Float32Array, dims: number[]): Promise<Float32Array> {
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, dims) });
  return out[session.outputNames[0]!]!.data as Float32Array;
}

/**
 * `imageDims` is one face's input shape without the batch (e.g. [3,112,112]); `fixedBatch` the original's
 * batch. Throws what onnxruntime throws when either model cannot run.
 */
export async function proveBatchRewrite(
  original: Uint8Array,
  rewritten: Uint8Array,
  fixedBatch: number,
  imageDims: number[],
  data?: Float32Array,
  tolerance = 1e-5,
): Promise<BatchProof> {
  const per = imageDims.reduce((a, b) => a * b, 1);
  const rows = data ? data.length / per : Math.max(3, fixedBatch * 2 + 1);
  const x = data ?? probeInput(rows, per);
  const [a, b] = await Promise.all([quietSession(original), quietSession(rewritten)]);
  try {
    const got = await runFirst(b, x, [rows, ...imageDims]);
    const want: number[] = [];
    for (let start = 0; start < rows; start += fixedBatch) {
      // The original runs only at its fixed batch: pad the last group with zeros, keep its real rows.
      const group = new Float32Array(fixedBatch * per);
      group.set(x.subarray(start * per, Math.min(rows, start + fixedBatch) * per));
      const out = await runFirst(a, group, [fixedBatch, ...imageDims]);
      const dim = out.length / fixedBatch;
      // A loop, not push(...): fixedBatch × dim values (256 × 512 and up) would overflow the stack.
      for (const v of out.subarray(0, Math.min(fixedBatch, rows - start) * dim)) want.push(v);
    }
    if (got.length !== want.length) return { equal: false, maxRelativeError: Infinity, rows };
    let diff = 0, scale = 0;
    for (let i = 0; i < want.length; i++) {
      if (!Number.isFinite(got[i]!)) return { equal: false, maxRelativeError: Infinity, rows };
      diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    const err = scale === 0 ? diff : diff / scale;
    return { equal: err <= tolerance, maxRelativeError: err, rows };
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
}

/** Runs `model` once on `batch` probe faces; returns each output's dims, or throws onnxruntime's error. */
export async function tryRun(model: Uint8Array, batch: number, imageDims: number[]): Promise<number[][]> {
  return (await tryRunOutputs(model, batch, imageDims)).map((t) => t.dims);
}

/** The outputs of one run on a probe batch, in the model's output order. */
export async function tryRunOutputs(model: Uint8Array, batch: number, imageDims: number[]): Promise<{ data: Float32Array; dims: number[] }[]> {
  const session = await quietSession(model);
  try {
    const per = imageDims.reduce((a, b) => a * b, 1);
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', probeInput(batch, per), [batch, ...imageDims]) });
    return session.outputNames.map((n) => ({ data: out[n]!.data as Float32Array, dims: [...out[n]!.dims] }));
  } finally {
    await session.release();
  }
}

