/**
 * A guest's trace.dat recorded with its host (`trace-cmd record -A`, or
 * `trace-cmd attach`) carries a TIME_SHIFT option: for each guest CPU, samples
 * of how the guest's clock relates to the host's (when the sample was taken,
 * the offset, and a scaling as a multiplier and a number of fraction bits).
 * trace-cmd report moves every guest timestamp onto the host's clock with
 * them (unless --raw-ts), so a guest's events line up with the host's; mntrace
 * does the same, so its timestamps are the ones trace-cmd report prints.
 *
 * The option, in the file's byte order:
 *   u64 the host's trace id, u32 flags (bit 0: interpolate), u32 CPU count,
 *   per CPU: u32 sample count n, then n i64 times, n i64 offsets, n i64 scalings;
 *   then, when bytes remain, per CPU: n i64 fraction bits.
 *
 * A timestamp t of CPU c (one with no samples is left as it is) uses the two
 * samples around t (the first two before the first, the last two after the
 * last; a single sample is a plain offset): the correction is the earlier
 * sample's offset, or with interpolation the offset on the line between the
 * two at t (rounded to nearest); t becomes (t * scaling >> fraction) of the
 * earlier sample, plus the correction, in 64-bit unsigned arithmetic.
 */
import type { Cursor } from './container';
import { DatError } from './errors';

interface Sample {
  time: bigint;
  offset: bigint;
  scaling: bigint;
  fraction: bigint;
}

/** TIME_SHIFT flags: correct by the line between two samples, not by the earlier one's offset. */
const INTERPOLATE = 1;

export class TimeShift {
  private constructor(
    /** The host's trace id (the GUEST option of the host's file names it). */
    readonly peerTraceId: bigint,
    private readonly flags: number,
    /** Per guest CPU, its samples sorted by time, one per time. */
    private readonly cpus: Sample[][],
  ) {}

  /**
   * Read the option's `size` bytes from `c` (its data, in the file's byte order). A TIME_SHIFT cut
   * short is a DatError (trace-cmd refuses such a file too); so is a count of CPUs or samples the
   * option cannot hold, before anything is allocated for them.
   */
  static parse(c: Cursor, size: number): TimeShift {
    const end = c.pos + size;
    const room = (n: number, what: string) => {
      if (c.pos + n > end) throw new DatError(`the TIME_SHIFT option (host time sync) is too short for ${what}`);
    };
    const peer = c.u64('the host trace id');
    const flags = c.u32('the flags');
    const count = c.u32('the CPU count');
    // Each CPU takes at least its 4-byte sample count.
    room(count * 4, `${count} CPUs`);
    const cpus: Sample[][] = [];
    for (let cpu = 0; cpu < count; cpu++) {
      const n = c.u32(`CPU ${cpu}'s sample count`);
      room(n * 24, `CPU ${cpu}'s ${n} samples`);
      const samples = Array.from({ length: n }, (): Sample => ({ time: 0n, offset: 0n, scaling: 0n, fraction: 0n }));
      for (const s of samples) s.time = c.i64('a sample time');
      for (const s of samples) s.offset = c.i64('a sample offset');
      for (const s of samples) s.scaling = c.i64('a sample scaling');
      cpus.push(samples);
    }
    if (c.pos < end) {
      for (const samples of cpus) {
        // A shift of more than 63 bits is undefined in trace-cmd's C; it is taken as none here.
        for (const s of samples) {
          const f = c.i64('a sample\'s fraction bits');
          s.fraction = f < 0n || f > 63n ? 0n : f;
        }
      }
    }
    for (let cpu = 0; cpu < cpus.length; cpu++) {
      const sorted = cpus[cpu].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
      cpus[cpu] = sorted.filter((s, i) => i === 0 || s.time !== sorted[i - 1].time);
    }
    return new TimeShift(peer, flags, cpus);
  }

  /** The host-clock timestamp of guest timestamp `ts` on guest CPU `cpu`. */
  apply(ts: bigint, cpu: number): bigint {
    const samples = this.cpus[cpu];
    if (samples === undefined || samples.length === 0) return ts;
    if (samples.length === 1) return BigInt.asUintN(64, ts + samples[0].offset);
    const last = samples.length - 1;
    let at: number;
    if (ts <= samples[0].time) at = 0;
    else if (ts >= samples[last].time) at = last - 1;
    else {
      // The last sample at or before ts (ts is strictly inside the samples here).
      let lo = 0;
      let hi = last;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (samples[mid].time <= ts) lo = mid;
        else hi = mid;
      }
      at = lo;
    }
    return this.correct(ts, samples[at], samples[at + 1]);
  }

  private correct(ts: bigint, min: Sample, max: Sample): bigint {
    let correction = min.offset;
    if (this.flags & INTERPOLATE) {
      const delta = max.time - min.time;
      const along = BigInt.asIntN(64, BigInt.asIntN(64, ts - min.time) * (max.offset - min.offset));
      // Rounded to nearest as trace-cmd rounds: (along + delta / 2) / delta, truncating toward zero.
      correction = min.offset + (along + delta / 2n) / delta;
    }
    const scaled = BigInt.asUintN(64, ts * min.scaling) >> min.fraction;
    return BigInt.asUintN(64, scaled + correction);
  }
}
