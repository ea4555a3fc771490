/**
 * Bounded top-k selection: a binary heap whose root is the worst kept candidate.
 * Order: higher score first; equal scores keep the lower row (earlier insertion) first,
 * which gives IndexFlatIP's deterministic tie-breaking.
 */
export class TopK {
  private readonly scores: Float64Array;
  private readonly rows: Int32Array;
  private count = 0;

  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
    this.rows = new Int32Array(k);
  }

  /** A candidate scoring below this cannot enter (equal may, on an earlier row). */
  get threshold(): number {
    return this.count < this.k ? -Infinity : this.scores[0];
  }

  get size(): number {
    return this.count;
  }

  push(score: number, row: number): void {
    if (this.k === 0) return;
    if (this.count < this.k) {
      this.scores[this.count] = score;
      this.rows[this.count] = row;
      this.siftUp(this.count++);
    } else if (score > this.scores[0] || (score === this.scores[0] && row < this.rows[0])) {
      this.scores[0] = score;
      this.rows[0] = row;
      this.siftDown(0);
    }
  }

  /** Kept candidates, best first. */
  sorted(): { scores: number[]; rows: number[] } {
    const order = Array.from({ length: this.count }, (_, i) => i);
    order.sort((a, b) => this.scores[b] - this.scores[a] || this.rows[a] - this.rows[b]);
    return { scores: order.map((i) => this.scores[i]), rows: order.map((i) => this.rows[i]) };
  }

  /** True when candidate a ranks below candidate b (so a belongs nearer the root). */
  private worse(a: number, b: number): boolean {
    const { scores, rows } = this;
    return scores[a] < scores[b] || (scores[a] === scores[b] && rows[a] > rows[b]);
  }

  private swap(a: number, b: number): void {
    const { scores, rows } = this;
    const s = scores[a];
    scores[a] = scores[b];
    scores[b] = s;
    const r = rows[a];
    rows[a] = rows[b];
    rows[b] = r;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.count) return;
      const right = left + 1;
      const child = right < this.count && this.worse(right, left) ? right : left;
      if (!this.worse(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }
}
