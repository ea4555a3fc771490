/** A byte scan that tells, without decoding a model, whether it can hold a PRelu op at all. */

/** True when the bytes hold the op name "PRelu" anywhere (a PRelu node's op_type is stored as plain text). */
export function mayHavePrelu(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('PRelu');
}
