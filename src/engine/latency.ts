/**
 * Streaming latency statistics with bounded memory: a log-scale histogram
 * (8 buckets per power of two, so quantiles are within about 9%), plus exact
 * count, min and max.
 */
const SUB = 8;

export class LatencyHistogram {
  count = 0;
  min = Infinity;
  max = 0;
  private readonly buckets = new Map<number, number>();

  add(ns: number): void {
    const v = Math.max(1, ns);
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    const b = Math.floor(Math.log2(v) * SUB);
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + 1);
  }

  /** The q-quantile (0..1), as the upper edge of its bucket, clamped to [min, max]. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (const b of [...this.buckets.keys()].sort((x, y) => x - y)) {
      seen += this.buckets.get(b) as number;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, Math.round(2 ** ((b + 1) / SUB))));
    }
    return this.max;
  }

  summary(): LatencySummary {
    return { count: this.count, p50Ns: this.quantile(0.5), p99Ns: this.quantile(0.99), maxNs: this.count ? this.max : 0 };
  }
}

export interface LatencySummary {
  count: number;
  p50Ns: number;
  p99Ns: number;
  maxNs: number;
}

/** Histograms keyed by a label (event type, caller), with a bound on distinct labels. */
export class LatencyTable {
  readonly byKey = new Map<string, LatencyHistogram>();

  constructor(private readonly maxKeys = 256) {}

  add(key: string, ns: number): void {
    let h = this.byKey.get(key);
    if (!h) {
      if (this.byKey.size >= this.maxKeys) key = '(other)';
      h = this.byKey.get(key);
      if (!h) {
        h = new LatencyHistogram();
        this.byKey.set(key, h);
      }
    }
    h.add(ns);
  }

  summaries(): Record<string, LatencySummary> {
    const out: Record<string, LatencySummary> = {};
    for (const [k, h] of [...this.byKey.entries()].sort((a, b) => b[1].count - a[1].count)) out[k] = h.summary();
    return out;
  }
}
