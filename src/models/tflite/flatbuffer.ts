/**
 * A minimal read-only FlatBuffers accessor: tables through their vtables, scalars, strings and vectors,
 * exactly the wire format the `flatbuffers` runtime reads (little-endian, 32-bit offsets). The TFLite
 * reader needs only these few lookups, so it carries no dependency for them.
 */
export class FbTable {
  constructor(
    readonly view: DataView,
    /** Byte position of the table in the buffer. */
    readonly pos: number,
  ) {}

  /** The root table of a buffer (its first u32 is the offset to it). */
  static root(bytes: Uint8Array): FbTable {
    if (bytes.byteLength < 8) throw new Error('file too small for a FlatBuffer');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new FbTable(view, view.getUint32(0, true));
  }

  /** Absolute position of field `id`'s value, or 0 when the field is absent (default). */
  private field(id: number): number {
    const vtable = this.pos - this.view.getInt32(this.pos, true);
    const slot = 4 + 2 * id;
    if (slot >= this.view.getUint16(vtable, true)) return 0;
    const offset = this.view.getUint16(vtable + slot, true);
    return offset === 0 ? 0 : this.pos + offset;
  }

  has(id: number): boolean {
    return this.field(id) !== 0;
  }

  /** Follows the u32 offset stored at `at` (tables, vectors and strings are stored by offset). */
  private deref(at: number): number {
    return at + this.view.getUint32(at, true);
  }

  u8(id: number, fallback = 0): number {
    const at = this.field(id);
    return at ? this.view.getUint8(at) : fallback;
  }
  i8(id: number, fallback = 0): number {
    const at = this.field(id);
    return at ? this.view.getInt8(at) : fallback;
  }
  bool(id: number, fallback = false): boolean {
    const at = this.field(id);
    return at ? this.view.getUint8(at) !== 0 : fallback;
  }
  i32(id: number, fallback = 0): number {
    const at = this.field(id);
    return at ? this.view.getInt32(at, true) : fallback;
  }
  u32(id: number, fallback = 0): number {
    const at = this.field(id);
    return at ? this.view.getUint32(at, true) : fallback;
  }
  u64(id: number, fallback = 0): number {
    const at = this.field(id);
    return at ? Number(this.view.getBigUint64(at, true)) : fallback;
  }
  f32(id: number, fallback = 0): number {
    const at = this.field(id);
    return at ? this.view.getFloat32(at, true) : fallback;
  }

  table(id: number): FbTable | undefined {
    const at = this.field(id);
    return at ? new FbTable(this.view, this.deref(at)) : undefined;
  }

  string(id: number): string | undefined {
    const at = this.field(id);
    if (!at) return undefined;
    const start = this.deref(at);
    const length = this.view.getUint32(start, true);
    return new TextDecoder().decode(new Uint8Array(this.view.buffer, this.view.byteOffset + start + 4, length));
  }

  /** [position of the first element, element count] of vector field `id`. */
  private vector(id: number): [number, number] {
    const at = this.field(id);
    if (!at) return [0, 0];
    const start = this.deref(at);
    return [start + 4, this.view.getUint32(start, true)];
  }

  tables(id: number): FbTable[] {
    const [first, n] = this.vector(id);
    return Array.from({ length: n }, (_, i) => new FbTable(this.view, this.deref(first + 4 * i)));
  }
  i32s(id: number): number[] {
    const [first, n] = this.vector(id);
    return Array.from({ length: n }, (_, i) => this.view.getInt32(first + 4 * i, true));
  }
  f32s(id: number): number[] {
    const [first, n] = this.vector(id);
    return Array.from({ length: n }, (_, i) => this.view.getFloat32(first + 4 * i, true));
  }
  i64s(id: number): number[] {
    const [first, n] = this.vector(id);
    return Array.from({ length: n }, (_, i) => Number(this.view.getBigInt64(first + 8 * i, true)));
  }
  /** A ubyte vector as a view into the buffer (no copy). */
  bytes(id: number): Uint8Array {
    const [first, n] = this.vector(id);
    return new Uint8Array(this.view.buffer, this.view.byteOffset + first, n);
  }
}
