/**
 * The scan worker: the second core's share of `check` on a big file.
 *
 * It reads the file (decompressing it when needed), splits it into lines and,
 * once the input is known to be ftrace text, reads each line's columns with
 * the ftrace parser's own fast lane (FtraceParser.scanBytes). A line the
 * analysis does not need in full (the same EventFilter decision the main
 * thread's parser would make) goes back as five numbers: CPU, task,
 * timestamp parts; every other line goes back as bytes, for the main thread
 * to parse exactly as it would have. When the main thread runs out of work,
 * the worker leaves more of the scanning to it (a line sent as bytes is read
 * by the parser's own fast lane, with the same result). Chunks of the file move between the
 * threads without copying (transferred ArrayBuffers), and at most
 * MAX_IN_FLIGHT chunks are waiting at any time, so memory stays bounded
 * whatever the file size.
 *
 * Records, one per line in line order, as src/model/records.ts lays them
 * out: the scanner writes skipped and wanted events' columns straight into
 * the chunk's record array (the main thread builds a wanted event from them
 * without reading the line again); any other line goes as a LINE record
 * (a line longer than MAX_LINE_BYTES as its first bytes and its length).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { detectFormat, formatByName, ftraceFormat, SNIFF_LINES } from '../../parsers/detect';
import { FtraceParser } from '../../parsers/ftrace';
import { EventRec, LineRec, RecordKind } from '../model/records';
import type { ContextFlags, PayloadKeys, ProbeSite } from '../model/event';
import type { EventFilter } from '../../parsers/types';
import { loadCatalog, Semantics } from '../semantics';
import type { Role } from '../semantics/operations';
import { MAX_LINE_BYTES, UNREADABLE_HEAD } from '../model/limits';
import { MAX_RUNON_BYTES, openByteStream, runOnError, sniffCompression, type Compression, type DecompressedStream } from './source';
import { MAX_IN_FLIGHT, type ScanWorkerData, type WorkerMessage } from './worker-source';

const data = workerData as ScanWorkerData;
const port = parentPort!;
/** Chunks and record arrays the main thread is done with come back on this port, to be filled again. */
const spent = data.spent;
const spentChunks: ArrayBuffer[] = [];
const spentRecords: ArrayBuffer[] = [];

/** Collect what the main thread has sent back (without waiting). */
function collectSpent(): void {
  for (let m = receiveMessageOnPort(spent); m !== undefined; m = receiveMessageOnPort(spent)) {
    const back = m.message as { chunk: ArrayBuffer; records: ArrayBuffer };
    spentChunks.push(back.chunk);
    spentRecords.push(back.records);
  }
}

/** A chunk buffer of at least `size` bytes: a returned one when it is big enough (memory stays flat), else a new one. */
function takeChunk(size: number): Buffer {
  collectSpent();
  const ab = spentChunks.pop();
  return ab !== undefined && ab.byteLength >= size ? Buffer.from(ab) : Buffer.allocUnsafeSlow(size);
}

function takeRecords(): Int32Array {
  collectSpent();
  const ab = spentRecords.pop();
  return ab !== undefined ? new Int32Array(ab) : new Int32Array(LineRec.size * 32768);
}
const ctl = new Int32Array(data.ctl);

const semantics = new Semantics(loadCatalog(), data.spec.semantics);
const roles = new Set<Role>(data.spec.roles);
const filter: EventFilter = {
  wants: (name, group, probe) => {
    const role = semantics.roleOf(name, group, probe);
    return role !== undefined && roles.has(role);
  },
  skipped: () => {},
};

/** The fast lane, used only to read columns: its sink never sees a record. */
let scanner: FtraceParser | undefined;
let decided = false;
const held: string[] = [];
if (data.format !== undefined) decide(formatByName(data.format) === ftraceFormat);

function decide(ftrace: boolean): void {
  decided = true;
  held.length = 0;
  if (ftrace) {
    scanner = new FtraceParser({ file: data.path, sink: () => {}, filter });
    // This thread has time to spare: the main thread reads fields from the tokens' offsets.
    scanner.scanTokens = true;
  }
}

let compression: Compression = 'none';
let bytesRead = 0;
let bytesText = 0;
let posted = 0;
/**
 * Of every 8 lines, how many this worker scans; the rest go to the main
 * thread as plain lines, where the parser's fast lane reads them the same way.
 */
let share = data.share;
let buf: Buffer = Buffer.allocUnsafeSlow(data.chunkBytes);
let fill = 0;

/**
 * Objects the main thread learns once and then by id (probe sites, payload
 * key lists): each crosses, as `Wire`, with the first chunk that has it.
 */
class CrossOnce<T, Wire> {
  private readonly ids = new Map<T, number>();
  private fresh: Wire[] = [];

  /** `wire` makes what crosses for a value (not needed by a caller that gives it to add()). */
  constructor(private readonly wire?: (v: T) => Wire) {}

  /** The id of `value` (-1 for undefined), queueing it to cross when new. */
  id(value: T | undefined): number {
    if (value === undefined) return -1;
    return this.ids.get(value) ?? this.add(value, (this.wire as (v: T) => Wire)(value));
  }

  /** The id of a value already crossed or queued. */
  known(value: T): number | undefined {
    return this.ids.get(value);
  }

  /** A new value, with what crosses for it: its id. */
  add(value: T, wire: Wire): number {
    const id = this.ids.size;
    this.ids.set(value, id);
    this.fresh.push(wire);
    return id;
  }

  /** Those new since the last chunk. */
  take(): Wire[] {
    const f = this.fresh;
    this.fresh = [];
    return f;
  }
}
/** A site's text is read from the line it was first seen on (CrossOnce.add). */
const sites = new CrossOnce<ProbeSite, string>();
const names = new CrossOnce<string, string>((name) => name);
const contexts = new CrossOnce<ContextFlags, string>((f) => f.raw);
const keyLists = new CrossOnce<PayloadKeys, string[]>((k) => [...k.keys]);

/**
 * Bytes of the first line in buf that are not there: a line longer than
 * MAX_LINE_BYTES keeps only its first UNREADABLE_HEAD in the buffer (for the report).
 */
let dropped = 0;

/** Hand the complete lines in buf[0, fill) to the main thread; keep the unfinished last line. */
function emit(): void {
  if (fill === 0) return;
  const last = buf.lastIndexOf(10, fill - 1);
  if (last < 0) {
    if (fill < buf.length) return;
    if (dropped + fill > MAX_LINE_BYTES) {
      // A line too long to read: keep its start, count the rest.
      dropped += fill - UNREADABLE_HEAD;
      fill = UNREADABLE_HEAD;
      if (dropped > MAX_RUNON_BYTES) throw runOnError();
    } else {
      // One line longer than the buffer (a small test chunk): grow.
      const bigger = Buffer.allocUnsafeSlow(buf.length * 2);
      buf.copy(bigger, 0, 0, fill);
      buf = bigger;
    }
    return;
  }
  let rec = takeRecords();
  let n = 0;
  let o = 0;
  let from = 0;
  while (from <= last) {
    const nl = buf.indexOf(10, from);
    const end = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
    if (o + EventRec.size > rec.length) {
      const more = new Int32Array(rec.length * 2);
      more.set(rec);
      rec = more;
    }
    n++;
    const bytes = end - from + dropped;
    dropped = 0;
    if (bytes > MAX_LINE_BYTES) {
      rec[o] = RecordKind.Line;
      rec[o + LineRec.start] = from;
      rec[o + LineRec.end] = Math.min(end, from + UNREADABLE_HEAD);
      rec[o + LineRec.tooLong] = bytes;
      o += LineRec.size;
      if (!decided) {
        held.push('');
        if (held.length >= SNIFF_LINES) decide(detectFormat(held) === ftraceFormat);
      }
      from = nl + 1;
      continue;
    }
    let kind = RecordKind.Line;
    if (scanner !== undefined && (n & 7) < share) {
      if (buf[from] === 35 /* # */) scanner.noteHeaderLine(buf.toString('latin1', from, end));
      else kind = scanner.scanBytes(buf, from, end, rec, o);
    } else if (!decided) {
      // The same first lines the main thread sniffs, so both threads pick the same format.
      held.push(buf.toString('utf8', from, end));
      if (held.length >= SNIFF_LINES) decide(detectFormat(held) === ftraceFormat);
    }
    rec[o] = kind;
    if (kind === RecordKind.Wanted) {
      const sc = scanner as FtraceParser;
      const site = sc.scannedSite();
      rec[o + EventRec.site] = site === undefined ? -1 : sites.known(site) ?? sites.add(site, sc.scannedSiteText(buf, rec, o));
      rec[o + EventRec.name] = names.id(sc.scannedName());
      rec[o + EventRec.flags] = contexts.id(sc.scannedContext());
      rec[o + EventRec.keys] = keyLists.id(sc.scannedPayloadKeys());
      o += EventRec.size;
    } else if (kind === RecordKind.Skipped) {
      o += EventRec.skippedSize;
    } else {
      rec[o + LineRec.start] = from;
      rec[o + LineRec.end] = end;
      rec[o + LineRec.tooLong] = 0;
      o += LineRec.size;
    }
    from = nl + 1;
  }
  // Balance the two threads: when the main thread has finished every chunk sent so far,
  // it is waiting for this one, so it scans more lines itself from now on.
  if (posted === Atomics.load(ctl, 0) && share > 1) share--;
  const tail = fill - last - 1;
  const next = takeChunk(Math.max(data.chunkBytes, tail * 2));
  buf.copy(next, 0, last + 1, fill);
  const chunk = buf.buffer as ArrayBuffer;
  const msg: WorkerMessage = { type: 'chunk', chunk, records: rec.buffer as ArrayBuffer, count: n, sites: sites.take(), names: names.take(), contexts: contexts.take(), keys: keyLists.take(), bytesRead, bytesText, compression };
  port.postMessage(msg, [chunk, rec.buffer as ArrayBuffer]);
  posted++;
  buf = next;
  fill = tail;
  // Back-pressure: wait while the main thread is MAX_IN_FLIGHT chunks behind (and leave it less scanning).
  let blocked = false;
  for (;;) {
    const done = Atomics.load(ctl, 0);
    if (posted - done < MAX_IN_FLIGHT) break;
    blocked = true;
    Atomics.wait(ctl, 0, done, 1000);
  }
  if (blocked && share < 8) share++;
}

/** The end of input (or of what could be read): the bytes after the last newline are a final line without its newline. */
function finish(error?: NodeJS.ErrnoException): void {
  emit();
  let final: string | undefined;
  let finalTooLong: number | undefined;
  // A line that ran on past MAX_RUNON_BYTES is not a line: the error says so.
  if (fill > 0 && dropped <= MAX_RUNON_BYTES) {
    if (dropped + fill > MAX_LINE_BYTES) {
      finalTooLong = dropped + fill;
      fill = Math.min(fill, UNREADABLE_HEAD);
    }
    final = buf.toString('utf8', 0, fill);
    if (final.endsWith('\r')) final = final.slice(0, -1);
  }
  const msg: WorkerMessage = { type: 'end', final, finalTooLong, bytesRead, bytesText, compression };
  if (error) msg.error = { message: error.message, code: error.code };
  port.postMessage(msg);
}

function append(chunk: Buffer): void {
  let at = 0;
  while (at < chunk.length) {
    const room = buf.length - fill;
    const take = Math.min(room, chunk.length - at);
    chunk.copy(buf, fill, at, at + take);
    fill += take;
    at += take;
    bytesText += take;
    if (fill === buf.length) emit();
  }
}

async function main(): Promise<void> {
  const fd = openSync(data.path, 'r');
  const head = Buffer.alloc(8);
  const got = readSync(fd, head, 0, 8, 0);
  compression = sniffCompression(head.subarray(0, got));
  if (compression === 'none') {
    // Read straight into the chunk that will be handed over: no copy.
    try {
      for (;;) {
        if (fill === buf.length) emit();
        const n = readSync(fd, buf, fill, buf.length - fill, null);
        if (n === 0) break;
        fill += n;
        bytesRead += n;
        bytesText += n;
      }
    } finally {
      closeSync(fd);
    }
    finish();
    return;
  }
  closeSync(fd);
  const { stream } = await openByteStream(data.path, (n) => { bytesRead += n; });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) append(chunk);
    const failure = (stream as DecompressedStream).failure;
    if (failure) throw failure;
  } catch (err) {
    // Whatever was read before the damage is analysed, as on the main thread.
    finish(err as NodeJS.ErrnoException);
    return;
  }
  finish();
}

main().catch((err: NodeJS.ErrnoException) => {
  port.postMessage({ type: 'end', bytesRead, bytesText, compression, error: { message: err.message, code: err.code } } satisfies WorkerMessage);
});
