/**
 * Whether an input file is a trace.dat (also gzip- or zstd-compressed, as
 * fixtures and archives keep them), and a file to read it from at random:
 * the file itself, or the decompressed copy streamed to a temporary file
 * (removed by `done`), so memory never holds the whole capture.
 */
import { closeSync, createWriteStream, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { constants as zc, gunzipSync } from 'node:zlib';
import { Decompress } from 'fzstd';
import { openByteStream, sniffCompression } from '../source';
import { isTraceDat } from './container';

function head(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

function zstdHead(b: Buffer): Buffer {
  const out: Uint8Array[] = [];
  try {
    const d = new Decompress((chunk) => out.push(chunk));
    d.push(b);
  } catch {
    // A head cut mid-block: what came out before is enough to see the magic.
  }
  return Buffer.concat(out);
}

/** The trace.dat to read for `path` (and the size of `path` itself), or undefined when it is not one (then it is read as text). */
export async function datInput(path: string): Promise<{ path: string; size: number; compression: 'none' | 'gzip' | 'zstd'; done(): void } | undefined> {
  let h: Buffer;
  let size: number;
  try {
    // Only a regular file is looked at here: a FIFO or trace_pipe read once for its head would lose
    // those bytes (and a writer that finished meanwhile leaves the real read waiting forever); such an
    // input goes to the text reader, which peeks at its head and names a trace.dat given that way.
    const st = statSync(path);
    if (!st.isFile()) return undefined;
    size = st.size;
    h = head(path, 65536);
  } catch {
    return undefined; // not a regular readable file: the text reader says why
  }
  if (isTraceDat(h)) return { path, size, compression: 'none', done: () => {} };
  // Only the head is decompressed here, to see whether the file is a trace.dat at all.
  const compression = sniffCompression(h);
  let inner: Buffer;
  if (compression === 'gzip') {
    try {
      inner = gunzipSync(h, { finishFlush: zc.Z_SYNC_FLUSH });
    } catch {
      return undefined;
    }
  } else if (compression === 'zstd') inner = zstdHead(h);
  else return undefined;
  if (!isTraceDat(inner)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-dat-'));
  const out = join(dir, 'trace.dat');
  const done = () => rmSync(dir, { recursive: true, force: true });
  try {
    // The same decompressors as for text (zstd with its frame checks); a decompressor's error comes after its data.
    const { stream } = await openByteStream(path);
    await pipeline(stream, createWriteStream(out));
  } catch {
    // Cut or corrupt compressed data: what decompressed is read, and the reader says where it stops.
  }
  return { path: out, size, compression, done };
}
