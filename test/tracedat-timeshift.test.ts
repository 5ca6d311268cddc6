/**
 * A guest trace.dat's TIME_SHIFT option (src/io/tracedat/timeshift.ts): its
 * samples read in either byte order, and timestamps moved onto the host's
 * clock as trace-cmd report moves them; and a real capture given such an
 * option (in place of one of its CPUSTAT options, same size) reads with every
 * event of each CPU moved by that CPU's offset.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TimeShift } from '../src/io/tracedat/timeshift';
import { bufSource, Cursor, DatError } from '../src/io/tracedat/container';
import { readTrace } from '../src/io/read-trace';
import type { TraceEvent } from '../src/model/event';
import { diffNs } from '../src/model/time';
import { FIX } from './parse-helpers';

interface S { time: bigint; offset: bigint; scaling?: bigint; fraction?: bigint }

/** The option's bytes: flags, then per CPU its samples; fractions written when `fractions`. */
function option(flags: number, cpus: S[][], fractions = true, le = true): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.alloc(4); if (le) b.writeUInt32LE(v); else b.writeUInt32BE(v); parts.push(b); };
  const i64 = (v: bigint) => { const b = Buffer.alloc(8); if (le) b.writeBigInt64LE(v); else b.writeBigInt64BE(v); parts.push(b); };
  i64(0x1234n);
  u32(flags);
  u32(cpus.length);
  for (const s of cpus) {
    u32(s.length);
    for (const x of s) i64(x.time);
    for (const x of s) i64(x.offset);
    for (const x of s) i64(x.scaling ?? 1n);
  }
  if (fractions) for (const s of cpus) for (const x of s) i64(x.fraction ?? 0n);
  return Buffer.concat(parts);
}

/** The option's data read as the container reads it. */
function parse(data: Buffer, le: boolean): TimeShift {
  return TimeShift.parse(new Cursor(bufSource(data, 'the TIME_SHIFT option (host time sync)', 0), le), data.length);
}

describe('trace.dat TIME_SHIFT', () => {
  it('one sample: a plain offset (negative too); a CPU without samples keeps its timestamps', () => {
    const t = parse(option(0, [[{ time: 0n, offset: -500n }]]), true);
    assert.equal(t.peerTraceId, 0x1234n);
    assert.equal(t.apply(1000n, 0), 500n);
    assert.equal(t.apply(1000n, 1), 1000n);
  });

  it('two samples: the earlier one\'s offset, before, between and after them', () => {
    const t = parse(option(0, [[{ time: 100n, offset: 10n }, { time: 200n, offset: 20n }]]), true);
    assert.deepEqual([50n, 150n, 250n].map((x) => t.apply(x, 0)), [60n, 160n, 260n]);
  });

  it('interpolated: the offset on the line between the two samples around the time, rounded to nearest, extrapolated past the ends', () => {
    const two = parse(option(1, [[{ time: 100n, offset: 10n }, { time: 200n, offset: 20n }]]), true);
    // 150: 10 + (50 * 10 + 50) / 100 = 15; 250: 10 + (150 * 10 + 50) / 100 = 25; 104: 10 + (4 * 10 + 50) / 100 = 10.
    assert.deepEqual([150n, 250n, 104n, 105n].map((x) => two.apply(x, 0)), [165n, 275n, 114n, 116n]);
    // Three samples: 150 lies between the second and third (100 + (50 * 200 + 50) / 100 = 200).
    const three = parse(option(1, [[{ time: 0n, offset: 0n }, { time: 100n, offset: 100n }, { time: 200n, offset: 300n }]]), true);
    assert.equal(three.apply(150n, 0), 350n);
    assert.equal(three.apply(100n, 0), 200n);
  });

  it('scaling and fraction bits: t * scaling >> fraction, then the offset', () => {
    const t = parse(option(0, [[{ time: 0n, offset: 7n, scaling: 3n, fraction: 1n }, { time: 10n, offset: 7n, scaling: 3n, fraction: 1n }]]), true);
    assert.equal(t.apply(100n, 0), 157n);
    // Without the fraction arrays (older files), the fraction is 0.
    const old = parse(option(0, [[{ time: 0n, offset: 7n, scaling: 3n }, { time: 10n, offset: 7n, scaling: 3n }]], false), true);
    assert.equal(old.apply(100n, 0), 307n);
  });

  it('samples out of order and repeated times are sorted and kept once; big-endian files read the same', () => {
    const samples = [{ time: 200n, offset: 20n }, { time: 100n, offset: 10n }, { time: 200n, offset: 99n }];
    const le = parse(option(0, [samples]), true);
    const be = parse(option(0, [samples], true, false), false);
    assert.equal(le.apply(150n, 0), 160n);
    assert.equal(be.apply(150n, 0), 160n);
    assert.equal(le.apply(250n, 0), 260n);
  });

  it('an option cut short, or claiming more CPUs or samples than it holds, is a DatError, not a huge allocation', () => {
    const full = option(0, [[{ time: 0n, offset: 1n }, { time: 9n, offset: 2n }]]);
    for (const cut of [4, 12, 20, 30, full.length - 1]) assert.throws(() => parse(full.subarray(0, cut), true), DatError, `cut at ${cut}`);
    const liar = Buffer.from(full);
    liar.writeUInt32LE(0xffffffff, 12);
    assert.throws(() => parse(liar, true), /TIME_SHIFT/);
  });

  it('the real v6 capture with a TIME_SHIFT in place of a CPUSTAT option: CPU 0\'s events move by 1 s, CPU 1\'s by 2 s, nothing else changes', async () => {
    const orig = gunzipSync(readFileSync(join(FIX, 'tracedat', 'baseline.trace-cmd.v6.dat.gz')));
    const at = orig.indexOf('options  \0') + 10;
    // Walk the options to the first CPUSTAT (id 2) and put a TIME_SHIFT (id 12) of the same size there.
    let p = at;
    while (orig.readUInt16LE(p) !== 2) p += 6 + orig.readUInt32LE(p + 2);
    const size = orig.readUInt32LE(p + 2);
    const shift = option(0, [[{ time: 0n, offset: 1_000_000_000n }, { time: 1n << 62n, offset: 1_000_000_000n }], [{ time: 0n, offset: 2_000_000_000n }]]);
    assert.ok(shift.length <= size, `${shift.length} bytes for a ${size}-byte option`);
    const edited = Buffer.from(orig);
    edited.writeUInt16LE(12, p);
    edited.fill(0, p + 6, p + 6 + size);
    shift.copy(edited, p + 6);
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-tsync-'));
    writeFileSync(join(dir, 'host.dat'), orig);
    writeFileSync(join(dir, 'guest.dat'), edited);
    const read = async (f: string) => {
      const evs: TraceEvent[] = [];
      const r = await readTrace(join(dir, f), (x) => { if (x.kind === 'event') evs.push(x); });
      return { r, evs };
    };
    const a = await read('host.dat');
    const b = await read('guest.dat');
    assert.equal(b.evs.length, a.evs.length);
    assert.equal(b.r.info.unreadable, a.r.info.unreadable);
    for (const cpu of [0, 1]) {
      const before = a.evs.filter((e) => e.cpu === cpu);
      const after = b.evs.filter((e) => e.cpu === cpu);
      assert.ok(before.length > 100, `cpu ${cpu}: ${before.length} events`);
      assert.equal(after.length, before.length);
      for (let i = 0; i < before.length; i++) {
        assert.equal(after[i].name, before[i].name);
        assert.equal(diffNs(before[i].ts, after[i].ts), (cpu + 1) * 1e9, `cpu ${cpu} event ${i}`);
      }
    }
  });
});
