import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { gunzipChecked } from './gunzip';
import type { DecompressedStream } from './damage';
import { PassThrough, type Readable } from 'node:stream';
import { MAX_LINE_BYTES, UNREADABLE_HEAD } from '../model/limits';

/** Compression recognised by magic bytes. */
export type Compression = 'none' | 'gzip' | 'zstd' | 'xz';

import type { ReadResult } from './read-trace';

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * Compressed input that is corrupt or cut off: every line before the damage
 * was read (and handed on). readTrace attaches what its parser made of them
 * (`partial`), so the analysis can still report that part.
 */
export class DamagedInputError extends InputError {
  /** The parse of those lines (set by readTrace). */
  partial?: ReadResult;

  /** `source`: what was read before the damage; `message`: what the damage is. */
  constructor(readonly source: SourceInfo, message: string) {
    super(message);
  }

  /**
   * The error that ends reading at `e`, when it is damage (corrupt or cut-off
   * compressed data, a line that runs on without end); undefined for other errors.
   */
  static of(source: SourceInfo, e: { message: string; code?: string }): DamagedInputError | undefined {
    if (e.code === RUNON_CODE) {
      return new DamagedInputError(source, `${source.path}:${source.lines + 1}: ${e.message}: this is not trace text (binary data, or a device such as /dev/zero)`);
    }
    if (e.code !== 'Z_BUF_ERROR' && e.code !== 'Z_DATA_ERROR') return undefined;
    // What to do next: the file on this machine is not the whole capture.
    const test = source.compression === 'none' ? '' : ` (\`${source.compression} -t\` tells a whole copy from a damaged one)`;
    return new DamagedInputError(source, `${source.path}: compressed data is corrupt or cut off after ${source.lines} lines (${e.message}): copy the file again from the traced machine${test}`);
  }
}

const MAGIC: Array<[Compression, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
];

/** The compressions read (recognised by their magic bytes, whatever the file is called). */
export const COMPRESSIONS: readonly Compression[] = MAGIC.map(([kind]) => kind);

export function sniffCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  return 'none';
}

/**
 * Called once per line. `text` has no line terminator (LF or CRLF); `lineNo`
 * is 1-based; `terminated` is false only for a final line that ended without
 * a newline (the file may have been cut off there). `tooLong` is set (to the
 * line's length in bytes) for a line longer than MAX_LINE_BYTES: `text` is
 * then only its first characters, for the report.
 */
export type LineHandler = (text: string, lineNo: number, terminated: boolean, tooLong?: number) => void;

export interface SourceInfo {
  path: string;
  compression: Compression;
  /** Bytes read from the file (compressed size for compressed input). */
  bytesRead: number;
  /** Bytes of decompressed text. */
  bytesText: number;
  lines: number;
  /** Read and scanned on a worker thread (worker-source.ts). */
  parallel?: boolean;
  /** Of those lines, the events the worker read and the analysis did not need in full. */
  skippedByWorker?: number;
}

/**
 * Open a path (or `-` for stdin) as a byte stream, decompressing by magic bytes.
 * A path that is not a regular file (a FIFO, /dev/stdin, `<(zcat ...)`,
 * tracefs's trace_pipe, a character device) is read as a stream, like `-`:
 * it cannot be read twice, so its first bytes are peeked and put back.
 */
export async function openByteStream(path: string, onRawBytes?: (n: number) => void): Promise<{ stream: Readable; compression: Compression }> {
  let raw: Readable;
  let head: Buffer = Buffer.alloc(0);
  if (path === '-') {
    raw = process.stdin;
    head = await peekStream(raw);
  } else {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw new InputError(`cannot open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    let regular = false;
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new InputError(`${path} is a directory, not a trace file`);
      regular = st.isFile();
      if (regular) {
        head = Buffer.alloc(8);
        const { bytesRead } = await fh.read(head, 0, 8, 0);
        head = head.subarray(0, bytesRead);
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    if (regular) {
      await fh.close();
      raw = createReadStream(path, { highWaterMark: 1 << 20 });
    } else {
      // The stream takes the open descriptor (a FIFO opened twice would wait for a second writer).
      raw = fh.createReadStream({ highWaterMark: 1 << 20 });
      head = await peekStream(raw);
    }
  }
  const compression = sniffCompression(head);
  // fzstd decodes, and the frame and block structure and content checksums are checked around it (zstd.ts);
  // made (loaded on first use) before the data listener below sets the stream flowing.
  const unzstd = compression === 'zstd' ? await (require('./zstd') as typeof import('./zstd')).createZstdCheckedDecompressor() : undefined;
  if (onRawBytes) raw.on('data', (c: Buffer) => onRawBytes(c.length));
  switch (compression) {
    case 'none':
      return { stream: raw, compression };
    case 'gzip':
      return { stream: gunzipChecked(raw), compression };
    case 'zstd': {
      const z = unzstd as NonNullable<typeof unzstd>;
      raw.on('error', (e) => z.destroy(e));
      return { stream: failAfterData(raw.pipe(z)), compression };
    }
    case 'xz': {
      // xz-decompress: liblzma's xz decoder compiled to WebAssembly inside the package (no native build), on web streams.
      const { XzReadableStream } = require('xz-decompress') as typeof import('xz-decompress');
      const { Readable } = require('node:stream') as typeof import('node:stream');
      const web = Readable.toWeb(raw) as unknown as ConstructorParameters<typeof XzReadableStream>[0];
      const unxz = Readable.fromWeb(new XzReadableStream(web) as unknown as Parameters<typeof Readable.fromWeb>[0]);
      // Listeners run in order: this one tags the error before readLines sees it.
      unxz.on('error', (e: NodeJS.ErrnoException) => {
        if (e && typeof e === 'object' && e.code === undefined) {
          e.code = 'Z_DATA_ERROR';
          e.message = `xz: ${e.message}`;
        }
      });
      return { stream: failAfterData(unxz), compression };
    }
  }
}

/** A decompressed stream whose error comes after its data (see failAfterData). */
export type { DecompressedStream };

/**
 * The decompressor's output, with its error held until every byte decoded
 * before the damage has been read: a stream that fails drops what it still
 * buffers. Read it to its end, then look at `failure`.
 */
function failAfterData(src: Readable): DecompressedStream {
  const out: PassThrough & DecompressedStream = new PassThrough();
  src.on('data', (c: Buffer) => {
    if (!out.write(c)) src.pause();
  });
  out.on('drain', () => src.resume());
  src.on('end', () => out.end());
  src.on('error', (e: NodeJS.ErrnoException) => {
    out.failure = e;
    out.end();
  });
  // The reader stopped (Ctrl-C on live input): stop the decompressor too.
  out.on('close', () => src.destroy());
  return out;
}

/** Read the first bytes of stdin without losing them (they are unshifted back). */
function peekStream(s: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onReadable = () => {
      const chunk: Buffer | null = s.read();
      if (chunk === null) return;
      cleanup();
      s.unshift(chunk);
      resolve(chunk.subarray(0, 8));
    };
    const onEnd = () => { cleanup(); resolve(Buffer.alloc(0)); };
    const onError = (e: Error) => { cleanup(); reject(e); };
    const cleanup = () => { s.off('readable', onReadable); s.off('end', onEnd); s.off('error', onError); };
    s.on('readable', onReadable);
    s.on('end', onEnd);
    s.on('error', onError);
  });
}

/**
 * A consumer that reads lines as bytes (start/end offsets into a chunk) and
 * decodes only the lines it needs: the fast lane of the ftrace parser.
 */
export interface ByteLineSink {
  pushBytes(buf: Buffer, start: number, end: number, lineNo: number): void;
}

/**
 * Stream lines from a path or `-` to `onLine`, never holding more than one
 * chunk plus one partial line in memory. Decompresses gzip transparently.
 * Once `byteSink()` returns a sink, complete lines go to it as bytes instead.
 */
export async function readLines(path: string, onLine: LineHandler, onProgress?: (info: SourceInfo) => void, byteSink?: () => ByteLineSink | undefined, pause?: () => Promise<void> | undefined, signal?: AbortSignal): Promise<SourceInfo> {
  const info: SourceInfo = { path, compression: 'none', bytesRead: 0, bytesText: 0, lines: 0 };
  const splitter = new LineSplitter(onLine);
  if (path !== '-' && (await plainFile(path))) {
    try {
      await readPlainFile(path, splitter, info, onProgress, byteSink, pause);
    } catch (err) {
      info.lines = splitter.lineNo;
      throw DamagedInputError.of(info, err as NodeJS.ErrnoException) ?? err;
    }
    return info;
  }
  const { stream, compression } = await openByteStream(path, (n) => { info.bytesRead += n; });
  info.compression = compression;
  // Stopping early (Ctrl-C on live input): end the stream, keep what was read.
  const onAbort = () => stream.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      info.bytesText += chunk.length;
      if (byteSink && !splitter.byteSink) splitter.byteSink = byteSink();
      splitter.push(chunk);
      if (onProgress) { info.lines = splitter.lineNo; onProgress(info); }
      const wait = pause?.();
      if (wait) await wait;
    }
    const failure = (stream as DecompressedStream).failure;
    if (failure) throw failure;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (signal?.aborted) {
      splitter.end();
      info.lines = splitter.lineNo;
      return info;
    }
    // The lines before the damage were read (a line that ran on is not one of them).
    if (e.code !== RUNON_CODE) splitter.end();
    info.lines = splitter.lineNo;
    throw DamagedInputError.of(info, e) ?? err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  splitter.end();
  info.lines = splitter.lineNo;
  return info;
}

/** An uncompressed regular file: read with one reusable buffer instead of a stream (no per-chunk allocation or copy). */
async function plainFile(path: string): Promise<boolean> {
  try {
    // stat, not open: opening a FIFO (trace_pipe, <(zcat ...)) meets its writer, and closing it again
    // throws away what the writer put in the pipe, so the real open would wait for a writer forever.
    if (!(await stat(path)).isFile()) return false;
    const fh = await open(path, 'r');
    try {
      const head = Buffer.alloc(8);
      const { bytesRead } = await fh.read(head, 0, 8, 0);
      return sniffCompression(head.subarray(0, bytesRead)) === 'none';
    } finally {
      await fh.close();
    }
  } catch {
    return false; // openByteStream reports the error properly
  }
}

async function readPlainFile(path: string, splitter: LineSplitter, info: SourceInfo, onProgress?: (info: SourceInfo) => void, byteSink?: () => ByteLineSink | undefined, pause?: () => Promise<void> | undefined): Promise<void> {
  const fh = await open(path, 'r');
  try {
    // Double buffering: the next read runs (on libuv's thread pool) while this buffer's lines are processed.
    const size = 4 << 20;
    let cur = Buffer.allocUnsafe(size);
    let next = Buffer.allocUnsafe(size);
    let len = (await fh.read(cur, 0, size, null)).bytesRead;
    info.bytesRead += len;
    info.bytesText += len;
    while (len > 0) {
      // The unfinished last line (at most MAX_LINE_BYTES: a longer one is skipped) moves to the front of the next buffer.
      const tail = len - splitter.keptFrom(cur, len);
      cur.copy(next, 0, len - tail, len);
      const reading = fh.read(next, tail, next.length - tail, null);
      if (byteSink && !splitter.byteSink) splitter.byteSink = byteSink();
      try {
        splitter.pushRange(cur, len);
      } catch (err) {
        await reading.catch(() => undefined);
        throw err;
      }
      if (onProgress) { info.lines = splitter.lineNo; onProgress(info); }
      const wait = pause?.();
      if (wait) await wait;
      const got = (await reading).bytesRead;
      if (got === 0) {
        splitter.pushFinal(Buffer.from(next.subarray(0, tail)));
        break;
      }
      info.bytesRead += got;
      info.bytesText += got;
      const swap = cur;
      cur = next;
      next = swap;
      len = tail + got;
    }
    info.lines = splitter.lineNo;
  } finally {
    await fh.close();
  }
}

/** A line that runs on this far without a newline ends the input: it is not line-oriented text (binary data, /dev/zero). */
export const MAX_RUNON_BYTES = 64 << 20;
/** Error code of a line that ran past MAX_RUNON_BYTES (see damageError). */
const RUNON_CODE = 'E_LINE_RUNS_ON';

/** The error that ends reading at a line longer than MAX_RUNON_BYTES (DamagedInputError.of names the file and line). */
export function runOnError(): Error {
  return Object.assign(new Error(`the line runs on past ${MAX_RUNON_BYTES >> 20} MiB without a newline`), { code: RUNON_CODE });
}

/** The reason given for a line longer than MAX_LINE_BYTES. */
export function tooLongReason(bytes: number): string {
  return `line too long (${bytes} bytes; a trace line has at most ${MAX_LINE_BYTES} bytes): cut, not read`;
}

/**
 * Splits Buffer chunks into lines; decodes UTF-8 once per chunk (a newline
 * byte never sits inside a multi-byte character). Linear in the input: a
 * line longer than MAX_LINE_BYTES is not kept: its first bytes go to
 * `onLine` with `tooLong` set to its length, the rest is skipped up to the next newline.
 */
export class LineSplitter {
  lineNo = 0;
  /** When set, complete lines are handed over as bytes (the final unterminated line still goes to onLine). */
  byteSink: ByteLineSink | undefined;
  private carry: Buffer | undefined;
  /** The line being skipped (too long): its first bytes and its length so far. */
  private long: { head: string; bytes: number } | undefined;

  constructor(private readonly onLine: LineHandler) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    const used = this.pushRange(buf, buf.length);
    if (used < buf.length) this.carry = buf.subarray(used);
  }

  /**
   * Deliver the complete lines in buf[0, len); returns where the unfinished
   * last line starts (the caller keeps buf[returned, len) for the next call:
   * never more than MAX_LINE_BYTES).
   */
  pushRange(buf: Buffer, len: number): number {
    const kept = this.keptFrom(buf, len);
    let from = 0;
    if (this.long !== undefined) {
      const nl = buf.indexOf(10);
      if (nl < 0 || nl >= len) {
        this.skip(len);
        return len;
      }
      this.skip(nl);
      this.endLong(true);
      from = nl + 1;
    }
    const last = len > from ? buf.lastIndexOf(10, len - 1) : -1;
    if (last >= from) {
      if (this.byteSink !== undefined) this.bytesLines(buf, from, last);
      else this.textLines(buf, from, last);
      from = last + 1;
    }
    if (kept === len && from < len) {
      this.long = { head: buf.toString('utf8', from, from + UNREADABLE_HEAD), bytes: 0 };
      this.skip(len - from);
    }
    return kept;
  }

  /** Where pushRange(buf, len) will stop: the start of the unfinished last line, or len when that line is too long to keep. */
  keptFrom(buf: Buffer, len: number): number {
    const last = len > 0 ? buf.lastIndexOf(10, len - 1) : -1;
    if (last < 0 && this.long !== undefined) return len;
    return len - (last + 1) > MAX_LINE_BYTES ? len : last + 1;
  }

  private bytesLines(buf: Buffer, from: number, last: number): void {
    const sink = this.byteSink as ByteLineSink;
    while (from <= last) {
      const nl = buf.indexOf(10, from);
      const end = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (end - from > MAX_LINE_BYTES) this.onLine(buf.toString('utf8', from, from + UNREADABLE_HEAD), ++this.lineNo, true, end - from);
      else sink.pushBytes(buf, from, end, ++this.lineNo);
      from = nl + 1;
    }
  }

  private textLines(buf: Buffer, start: number, last: number): void {
    const text = buf.toString('utf8', start, last);
    let from = 0;
    const onLine = this.onLine;
    for (;;) {
      const nl = text.indexOf('\n', from);
      const end = nl < 0 ? text.length : nl;
      let lineEnd = end;
      if (lineEnd > from && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
      // Characters, not bytes: never more than the bytes, so a line within the byte limit always passes.
      if (lineEnd - from > MAX_LINE_BYTES) onLine(text.slice(from, from + UNREADABLE_HEAD), ++this.lineNo, true, Buffer.byteLength(text.slice(from, lineEnd)));
      else onLine(text.slice(from, lineEnd), ++this.lineNo, true);
      if (nl < 0) break;
      from = nl + 1;
    }
  }

  /** `n` more bytes of the line being skipped. */
  private skip(n: number): void {
    const long = this.long as { bytes: number };
    long.bytes += n;
    if (long.bytes > MAX_RUNON_BYTES) throw runOnError();
  }

  private endLong(terminated: boolean): void {
    const long = this.long as { head: string; bytes: number };
    this.long = undefined;
    this.onLine(long.head, ++this.lineNo, terminated, long.bytes);
  }

  /** The bytes after the last newline of the input: a final line without its newline. */
  pushFinal(rest: Buffer): void {
    this.carry = rest;
    this.end();
  }

  end(): void {
    if (this.long !== undefined) {
      this.endLong(false);
      return;
    }
    if (!this.carry || this.carry.length === 0) return;
    let text = this.carry.toString('utf8');
    this.carry = undefined;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    this.onLine(text, ++this.lineNo, false);
  }
}
