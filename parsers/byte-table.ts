/**
 * Tables keyed by a run of bytes in a line, for the scanner's hot path: an
 * event name or a probe site is looked up straight from the chunk it is in,
 * without decoding it to a string or hashing it byte by byte. A key is
 * compared 4 bytes at a time (DataView loads, which V8 compiles to single
 * machine loads), and a lookup reads at most two words to find its bucket.
 */

/** A key's bytes as little-endian 32-bit words: every whole word, then the last 4 bytes (overlapping), or the bytes themselves when fewer than 4. */
export class ByteKey {
  readonly len: number;
  private readonly words: Int32Array;
  private readonly tail: number;
  private readonly short: Uint8Array | undefined;

  constructor(b: Uint8Array, from: number, to: number) {
    const len = to - from;
    this.len = len;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.words = new Int32Array(len >> 2);
    for (let i = 0; i < this.words.length; i++) this.words[i] = view.getInt32(from + 4 * i, true);
    this.tail = len >= 4 ? view.getInt32(to - 4, true) : 0;
    this.short = len < 4 ? b.slice(from, to) : undefined;
  }

  /** Whether the bytes at `at` (with at least `len` bytes before the caller's limit) are this key. */
  matches(view: DataView, b: Uint8Array, at: number): boolean {
    const short = this.short;
    if (short !== undefined) {
      for (let i = 0; i < short.length; i++) if (b[at + i] !== short[i]) return false;
      return true;
    }
    const w = this.words;
    for (let i = 0; i < w.length; i++) if (view.getInt32(at + 4 * i, true) !== w[i]) return false;
    return view.getInt32(at + this.len - 4, true) === this.tail;
  }
}

/** A bucket number for the bytes [from, to): their length with their first, middle and last words. */
function byteBucket(view: DataView, b: Uint8Array, from: number, to: number): number {
  const len = to - from;
  if (len < 4) {
    let k = len;
    for (let i = from; i < to; i++) k = k * 256 + b[i];
    return k;
  }
  let h = Math.imul(view.getInt32(from, true), 0x9e3779b1) ^ Math.imul(view.getInt32(to - 4, true), 0x85ebca6b) ^ len;
  if (len >= 12) h = Math.imul(h ^ view.getInt32(from + (len >> 1) - 2, true), 0xc2b2ae35);
  return h | 0;
}

/** One value per distinct byte string, at most `max` of them (beyond that, lookups miss and the caller decides without caching). */
export class ByteTable<V> {
  private readonly buckets = new Map<number, Array<{ key: ByteKey; value: V }>>();
  private count = 0;

  constructor(private readonly max: number) {}

  get(view: DataView, b: Uint8Array, from: number, to: number): V | undefined {
    const list = this.buckets.get(byteBucket(view, b, from, to));
    if (list === undefined) return undefined;
    const len = to - from;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (e.key.len === len && e.key.matches(view, b, from)) return e.value;
    }
    return undefined;
  }

  /** Remember `value` for the bytes [from, to) (unless the table is full); returns `value`. */
  set(view: DataView, b: Uint8Array, from: number, to: number, value: V): V {
    if (this.count >= this.max) return value;
    const bucket = byteBucket(view, b, from, to);
    let list = this.buckets.get(bucket);
    if (list === undefined) this.buckets.set(bucket, (list = []));
    list.push({ key: new ByteKey(b, from, to), value });
    this.count++;
    return value;
  }
}

/** A DataView over a chunk, made once per chunk (the scanner asks for each line). */
export class ChunkView {
  private of: Uint8Array | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));

  get(b: Uint8Array): DataView {
    if (b !== this.of) {
      this.of = b;
      this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    return this.view;
  }
}
