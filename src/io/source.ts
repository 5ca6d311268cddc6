import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

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

  /** `source`: what was read before the damage; `cause`: the decompressor's message. */
  constructor(readonly source: SourceInfo, cause: string) {
    // What to do next: the file on this machine is not the whole capture.
    const test = source.compression === 'none' ? '' : ` (\`${source.compression} -t\` tells a whole copy from a damaged one)`;
    super(`${source.path}: compressed data is corrupt or cut off after ${source.lines} lines (${cause}): copy the file again from the traced machine${test}`);
  }

  /** Whether a decompressor's error code means corrupt or cut-off data. */
  static code(code: string | undefined): boolean {
    return code === 'Z_BUF_ERROR' || code === 'Z_DATA_ERROR';
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
 * a newline (the file may have been cut off there).
 */
export type LineHandler = (text: string, lineNo: number, terminated: boolean) => void;

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

/** Open a path (or `-` for stdin) as a byte stream, decompressing by magic bytes. */
export async function openByteStream(path: string, onRawBytes?: (n: number) => void): Promise<{ stream: Readable; compression: Compression }> {
  let raw: Readable;
  let head: Buffer;
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
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new InputError(`${path} is a directory, not a trace file`);
      head = Buffer.alloc(8);
      const { bytesRead } = await fh.read(head, 0, 8, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    raw = createReadStream(path, { highWaterMark: 1 << 20 });
  }
  if (onRawBytes) raw.on('data', (c: Buffer) => onRawBytes(c.length));
  const compression = sniffCompression(head);
  switch (compression) {
    case 'none':
      return { stream: raw, compression };
    case 'gzip':
      return { stream: raw.pipe(createGunzip({ chunkSize: 1 << 20 })), compression };
    case 'zstd': {
      // fzstd: pure-JS streaming Zstandard decoder (all frames of a multi-frame file).
      // Loaded here, on first use. Errors carry a Z_* code so readLines reports corrupt or cut-off data as an InputError.
      const { Decompress } = require('fzstd') as typeof import('fzstd');
      const { Transform } = require('node:stream') as typeof import('node:stream');
      const corrupt = (e: unknown, code: string): Error => Object.assign(new Error(`zstd: ${(e as Error)?.message ?? String(e)}`), { code });
      let out: Buffer[] = [];
      const decoder = new Decompress((chunk) => { out.push(Buffer.from(chunk)); });
      const unzstd = new Transform({
        transform(chunk: Buffer, _enc, done) {
          try {
            decoder.push(chunk);
          } catch (e) {
            done(corrupt(e, 'Z_DATA_ERROR'));
            return;
          }
          for (const c of out) this.push(c);
          out = [];
          done();
        },
        flush(done) {
          try {
            decoder.push(new Uint8Array(0), true);
          } catch (e) {
            done(corrupt(e, 'Z_BUF_ERROR'));
            return;
          }
          for (const c of out) this.push(c);
          out = [];
          done();
        },
      });
      raw.on('error', (e) => unzstd.destroy(e));
      return { stream: raw.pipe(unzstd), compression };
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
      return { stream: unxz, compression };
    }
  }
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
    await readPlainFile(path, splitter, info, onProgress, byteSink, pause);
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
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (signal?.aborted) {
      splitter.end();
      info.lines = splitter.lineNo;
      return info;
    }
    if (DamagedInputError.code(e.code)) {
      splitter.end();
      info.lines = splitter.lineNo;
      throw new DamagedInputError(info, e.message);
    }
    throw err;
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
    const fh = await open(path, 'r');
    try {
      if (!(await fh.stat()).isFile()) return false;
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
      const last = cur.lastIndexOf(10, len - 1);
      const tail = last < 0 ? len : len - last - 1;
      if (tail >= next.length) {
        // One line longer than a buffer: grow (only such a line costs memory).
        const bigger = Buffer.allocUnsafe(Math.max(next.length * 2, tail * 2));
        next = bigger;
      }
      cur.copy(next, 0, len - tail, len);
      const reading = fh.read(next, tail, next.length - tail, null);
      if (byteSink && !splitter.byteSink) splitter.byteSink = byteSink();
      if (last >= 0) splitter.pushRange(cur, last + 1);
      if (onProgress) { info.lines = splitter.lineNo; onProgress(info); }
      const wait = pause?.();
      if (wait) await wait;
      const got = (await reading).bytesRead;
      if (got === 0) {
        if (tail > 0) splitter.pushFinal(Buffer.from(next.subarray(0, tail)));
        break;
      }
      info.bytesRead += got;
      info.bytesText += got;
      const swap = cur;
      cur = next;
      next = swap.length >= cur.length ? swap : Buffer.allocUnsafe(cur.length);
      len = tail + got;
    }
    info.lines = splitter.lineNo;
  } finally {
    await fh.close();
  }
}

/** Splits Buffer chunks into lines; decodes UTF-8 once per chunk (a newline byte never sits inside a multi-byte character). */
export class LineSplitter {
  lineNo = 0;
  /** When set, complete lines are handed over as bytes (the final unterminated line still goes to onLine). */
  byteSink: ByteLineSink | undefined;
  private carry: Buffer | undefined;

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

  /** Deliver the complete lines in buf[0, len); returns where the unfinished last line starts. */
  pushRange(buf: Buffer, len: number): number {
    const last = buf.lastIndexOf(10, len - 1);
    if (last < 0) return 0;
    const sink = this.byteSink;
    if (sink !== undefined) {
      let from = 0;
      while (from <= last) {
        const nl = buf.indexOf(10, from);
        const end = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
        sink.pushBytes(buf, from, end, ++this.lineNo);
        from = nl + 1;
      }
      return last + 1;
    }
    const text = buf.toString('utf8', 0, last);
    let from = 0;
    const onLine = this.onLine;
    for (;;) {
      const nl = text.indexOf('\n', from);
      const end = nl < 0 ? text.length : nl;
      let lineEnd = end;
      if (lineEnd > from && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
      onLine(text.slice(from, lineEnd), ++this.lineNo, true);
      if (nl < 0) break;
      from = nl + 1;
    }
    return last + 1;
  }

  /** The bytes after the last newline of the input: a final line without its newline. */
  pushFinal(rest: Buffer): void {
    this.carry = rest;
    this.end();
  }

  end(): void {
    if (!this.carry || this.carry.length === 0) return;
    let text = this.carry.toString('utf8');
    this.carry = undefined;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    this.onLine(text, ++this.lineNo, false);
  }
}
