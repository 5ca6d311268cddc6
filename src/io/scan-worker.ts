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
 * Records, one per line in line order:
 *   line to parse:  [0, start, end, 0]            (offsets into the chunk, CR stripped)
 *   line too long:  [0, start, end, bytes]        (its first bytes, and its length: source.ts MAX_LINE_BYTES)
 *   skipped event:  [1 + digits + 16 * cpu, pid, sec, nsec]
 *   wanted event:   [-1, end, ...its columns]     (FtraceParser.writeScanned: the main thread builds the event without reading the line again)
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { detectFormat, formatByName, ftraceFormat, SNIFF_LINES } from '../../parsers/detect';
import { FtraceParser, SCAN_SKIP, SCAN_WANTED } from '../../parsers/ftrace';
import type { ProbeSite } from '../model/event';
import type { EventFilter } from '../../parsers/types';
import { loadCatalog, Semantics } from '../semantics';
import type { Role } from '../semantics/operations';
import { MAX_LINE_BYTES, MAX_RUNON_BYTES, openByteStream, runOnError, sniffCompression, type Compression, type DecompressedStream } from './source';
import { MAX_IN_FLIGHT, RECORD_SLOTS, WANTED_RECORD_SLOTS, type ScanWorkerData, type WorkerMessage } from './worker-source';

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

function takeRecords(): Float64Array {
  collectSpent();
  const ab = spentRecords.pop();
  return ab !== undefined ? new Float64Array(ab) : new Float64Array(RECORD_SLOTS * 32768);
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
  if (ftrace) scanner = new FtraceParser({ file: data.path, sink: () => {}, filter });
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

/** Probe sites by id: a site's text crosses once, with the first chunk that has it. */
const sites = new Map<ProbeSite, number>();
let newSites: string[] = [];
/** The id of the probe site of the wanted line `sc` just scanned in `b` (-1: none). */
function siteId(sc: FtraceParser, b: Buffer): number {
  const site = sc.scannedSite();
  if (site === undefined) return -1;
  let id = sites.get(site);
  if (id === undefined) {
    id = sites.size;
    sites.set(site, id);
    newSites.push(sc.scannedSiteText(b));
  }
  return id;
}

/**
 * Bytes of the first line in buf that are not there: a line longer than
 * MAX_LINE_BYTES keeps only its first HEAD_BYTES in the buffer (for the report).
 */
let dropped = 0;
const HEAD_BYTES = 300;

/** Hand the complete lines in buf[0, fill) to the main thread; keep the unfinished last line. */
function emit(): void {
  if (fill === 0) return;
  const last = buf.lastIndexOf(10, fill - 1);
  if (last < 0) {
    if (fill < buf.length) return;
    if (dropped + fill > MAX_LINE_BYTES) {
      // A line too long to read: keep its start, count the rest.
      dropped += fill - HEAD_BYTES;
      fill = HEAD_BYTES;
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
  newSites = [];
  let from = 0;
  while (from <= last) {
    const nl = buf.indexOf(10, from);
    const end = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
    if (o + WANTED_RECORD_SLOTS > rec.length) {
      const more = new Float64Array(rec.length * 2);
      more.set(rec);
      rec = more;
    }
    n++;
    let done = false;
    const bytes = end - from + dropped;
    dropped = 0;
    if (bytes > MAX_LINE_BYTES) {
      rec[o] = 0;
      rec[o + 1] = from;
      rec[o + 2] = Math.min(end, from + HEAD_BYTES);
      rec[o + 3] = bytes;
      o += RECORD_SLOTS;
      if (!decided) {
        held.push('');
        if (held.length >= SNIFF_LINES) decide(detectFormat(held) === ftraceFormat);
      }
      from = nl + 1;
      continue;
    }
    if (scanner !== undefined && (n & 7) < share) {
      if (buf[from] === 35 /* # */) scanner.noteHeaderLine(buf.toString('latin1', from, end));
      else {
        const kind = scanner.scanBytes(buf, from, end);
        if (kind === SCAN_SKIP) {
          const c = scanner.scanned;
          rec[o] = 1 + c.digits + 16 * c.cpu;
          rec[o + 1] = c.pid;
          rec[o + 2] = c.sec;
          rec[o + 3] = c.nsec;
          o += RECORD_SLOTS;
          done = true;
        } else if (kind === SCAN_WANTED) {
          rec[o] = -1;
          rec[o + 1] = end;
          scanner.writeScanned(rec, o + 2, siteId(scanner, buf));
          o += WANTED_RECORD_SLOTS;
          done = true;
        }
      }
    } else if (!decided) {
      // The same first lines the main thread sniffs, so both threads pick the same format.
      held.push(buf.toString('utf8', from, end));
      if (held.length >= SNIFF_LINES) decide(detectFormat(held) === ftraceFormat);
    }
    if (!done) {
      rec[o] = 0;
      rec[o + 1] = from;
      rec[o + 2] = end;
      rec[o + 3] = 0;
      o += RECORD_SLOTS;
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
  const msg: WorkerMessage = { type: 'chunk', chunk, records: rec.buffer as ArrayBuffer, count: n, sites: newSites, bytesRead, bytesText, compression };
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
      fill = Math.min(fill, HEAD_BYTES);
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
