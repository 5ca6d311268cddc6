/**
 * Several inputs that are one capture (per-CPU files: per_cpu/cpuN/trace, or
 * trace-cmd's per-CPU reports) merged by timestamp into one record stream.
 *
 * Each file is read by its own parser at the same time; records wait in a
 * bounded queue per file, and the one with the earliest timestamp goes out
 * next (records without a timestamp — headers, lost-event markers — go out in
 * their file's order, right after the event before them). A file whose queue
 * is full pauses until the others catch up, so memory stays bounded. Every
 * event is built in full here (no event filter): the merge orders everything.
 */
import type { MissingEntriesRecord, PartCutRecord, Timestamp, TraceRecord } from '../model/event';
import { inputName, sumParseInfo } from '../model/event';
import { compareTimestamps } from '../model/time';
import { readTrace, type ReadOptions, type ReadResult } from './read-trace';
import { DamagedInputError, InputError, type SourceInfo } from './source';
import { datInput } from './tracedat/input';
import { DatError, readTraceDat } from './tracedat/reader';

const HIGH = 20000;
const LOW = 5000;

interface Lane {
  path: string;
  queue: TraceRecord[];
  head: number;
  done: boolean;
  /** The timestamp of the part's latest event so far. */
  last?: Timestamp;
  /** Why the part stopped early (compressed data cut off or corrupt). */
  damaged?: string;
  /** The entries its header counted (entries-in-buffer), when it has one. */
  claimed?: number;
  /** Its parser found fewer entries than that (held back: see missingEntries). */
  missing?: MissingEntriesRecord;
  resume?: () => void;
}

function keyOf(r: TraceRecord): Timestamp | undefined {
  return r.kind === 'event' ? r.ts : undefined;
}

/** A merged read: `damaged` says which parts stopped early, and why (see PartCutRecord). */
export interface MergedReadResult extends ReadResult {
  damaged?: string;
  /** Each part's own read (in the order given), whose counters `info` sums; none for trace.dat files, read by one reader. */
  parts: ReadResult[];
}

export async function readMerged(
  paths: string[],
  onRecord: (r: TraceRecord) => void,
  opts: { format?: string; csvColumns?: ReadOptions['csvColumns']; onProgress?: (info: SourceInfo) => void } = {},
): Promise<MergedReadResult> {
  // The trace.dat files of one host+guest capture (trace-cmd record -A): read together, each a machine of its own.
  // Looked at in turn, stopping at the first part that is not one (a compressed trace.dat is decompressed to read it:
  // a merge of text files must not pay that, and each part's own read looks at it again anyway).
  const dats: Array<NonNullable<Awaited<ReturnType<typeof datInput>>>> = [];
  if (opts.format === undefined || opts.format === 'trace.dat') {
    for (const p of paths) {
      const d = await datInput(p);
      if (d === undefined) break;
      dats.push(d);
    }
  }
  if (dats.length > 0 && dats.length === paths.length) {
    try {
      const r = readTraceDat(dats.map((d) => d.path), paths.map(inputName), onRecord);
      // One reader for all the files: no counters of its own per part.
      return { path: paths[0], ...r, parts: [] };
    } catch (err) {
      if (err instanceof DatError) throw new InputError(`${paths.map(inputName).join(' + ')}: cannot read these trace.dat files: ${err.message}`);
      if (err instanceof DamagedInputError && err.partial) return { ...err.partial, damaged: err.message, parts: [] };
      throw err;
    } finally {
      for (const d of dats) d.done();
    }
  }
  for (const d of dats) d.done();
  const lanes: Lane[] = paths.map((path) => ({ path, queue: [], head: 0, done: false }));
  const size = (l: Lane) => l.queue.length - l.head;

  /** Emit records while every unfinished lane has one waiting (so the minimum is known). */
  const drain = () => {
    for (;;) {
      let best: Lane | undefined;
      let bestKey: Timestamp | undefined;
      for (const l of lanes) {
        if (size(l) === 0) {
          if (!l.done) return settle();
          continue;
        }
        const r = l.queue[l.head];
        const k = keyOf(r);
        if (k === undefined) {
          // No timestamp: it belongs right after its file's previous record.
          best = l;
          bestKey = undefined;
          break;
        }
        if (!best || (bestKey !== undefined && compareTimestamps(k, bestKey) < 0)) {
          best = l;
          bestKey = k;
        }
      }
      if (!best) return settle();
      onRecord(best.queue[best.head++]);
      if (best.head > 4096) {
        best.queue.splice(0, best.head);
        best.head = 0;
      }
    }
  };
  /** Wake lanes whose queue has room again. */
  const settle = () => {
    for (const l of lanes) {
      if (l.resume && size(l) < LOW) {
        const r = l.resume;
        l.resume = undefined;
        r();
      }
    }
  };

  const results = await Promise.all(
    lanes.map(async (lane) => {
      try {
        return await readTrace(lane.path, (r) => {
          if (r.kind === 'event' && (lane.last === undefined || compareTimestamps(r.ts, lane.last) > 0)) lane.last = r.ts;
          if (r.kind === 'header' && r.entriesInBuffer !== undefined) lane.claimed = r.entriesInBuffer;
          if (r.kind === 'missing-entries') {
            lane.missing = r;
            return;
          }
          lane.queue.push(r);
        }, {
          format: opts.format,
          csvColumns: opts.csvColumns,
          pause: () => {
            drain();
            if (size(lane) < HIGH) return undefined;
            return new Promise<void>((resolve) => {
              lane.resume = resolve;
            });
          },
        });
      } catch (err) {
        // A part cut off or corrupt: what came before the damage is merged, and the rest of this part counts as missing.
        if (!(err instanceof DamagedInputError) || err.partial === undefined) throw err;
        lane.damaged = err.message;
        const cut: PartCutRecord = { kind: 'part-cut', reason: err.message, src: { file: lane.path, line: err.source.lines } };
        if (lane.last !== undefined) cut.after = lane.last;
        lane.queue.push(cut);
        return err.partial;
      } finally {
        lane.done = true;
        drain();
      }
    }),
  );
  drain();
  for (const r of missingEntries(lanes)) onRecord(r);
  const info = sumParseInfo(...results.map((r) => r.info));
  const source: SourceInfo = { path: paths.join(' + '), compression: results[0]?.source.compression ?? 'none', bytesRead: 0, bytesText: 0, lines: 0 };
  for (const r of results) {
    source.bytesRead += r.source.bytesRead;
    source.bytesText += r.source.bytesText;
    source.lines += r.source.lines;
  }
  opts.onProgress?.(source);
  const formats = [...new Set(results.map((r) => r.format))];
  const damaged = lanes.flatMap((l) => (l.damaged !== undefined ? [l.damaged] : []));
  return { path: source.path, format: formats.join('+'), source, info, parts: results, ...(damaged.length ? { damaged: damaged.join('; ') } : {}) };
}

/**
 * Whether the merged capture holds fewer entries than its headers counted.
 * The kernel prints the whole buffer's entries-in-buffer in every
 * per_cpu/cpuN/trace file, so parts whose headers all carry one figure are
 * one count: the capture is short only when all parts together hold fewer.
 * Parts whose headers differ each counted their own entries: each is judged
 * alone, as its parser did.
 */
function missingEntries(lanes: Lane[]): MissingEntriesRecord[] {
  const short = lanes.flatMap((l) => (l.missing ? [l.missing] : []));
  if (short.length === 0) return [];
  const claims = new Set(lanes.flatMap((l) => (l.claimed !== undefined ? [l.claimed] : [])));
  if (claims.size !== 1) return short;
  // One figure: a part that holds it all by itself (it reported nothing short) means nothing is missing.
  if (lanes.some((l) => l.claimed !== undefined && l.missing === undefined)) return [];
  const claimed = short[0].claimed;
  const found = short.reduce((n, r) => n + r.found, 0);
  return found < claimed ? [{ ...short[0], claimed, found }] : [];
}
