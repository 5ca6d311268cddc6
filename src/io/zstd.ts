/**
 * Zstandard input, checked as `zstd -t` checks it.
 *
 * fzstd decodes (pure JS, streaming) but checks nothing: a corrupt file read
 * as text, invented findings, or a decoder spinning forever. So the
 * compressed stream is walked here by its frame format (RFC 8878): each
 * frame's header, each block's header (type, size: at most 128 KiB of output
 * per block), the content checksum (the low 32 bits of XXH64 of the frame's
 * output, by xxhash-wasm) and the content size when the header gives one.
 * Only whole, well-formed blocks reach the decoder, one at a time, and what
 * each block decodes to goes on at once: damage ends the stream with a
 * Z_DATA_ERROR (Z_BUF_ERROR when the data stops mid-frame) after every line
 * before it. Skippable frames are skipped; anything else between or after
 * frames (trailing garbage) is damage.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { decodeDamage } from './damage';

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50 to 0x184D2A5F, then a 4-byte size. */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** The largest block: its output too (RFC 8878 3.1.1.2.3). */
const MAX_BLOCK = 128 << 10;

/** zstd's default decoding limit (windowLogMax 27: 128 MiB); a bigger window is refused as `zstd -d` refuses it. */
const MAX_WINDOW = 1n << 27n;

/** The window size a window descriptor byte gives (RFC 8878 3.1.1.1.2). */
function windowSize(wd: number): bigint {
  const base = 1n << BigInt(10 + (wd >> 3));
  return base + (base / 8n) * BigInt(wd & 7);
}

type Hasher = { update(b: Uint8Array): Hasher; digest(): bigint };
type Decoder = { push(chunk: Uint8Array, final?: boolean): unknown };

const damage = (message: string, code?: string) => decodeDamage('zstd', message, code);

/** A Transform from zstd bytes to the decompressed bytes, checked frame by frame. */
export async function createZstdCheckedDecompressor(): Promise<Transform> {
  const xxhash = require('xxhash-wasm') as (typeof import('xxhash-wasm'))['default'];
  const { create64 } = await xxhash();
  const { Decompress } = require('fzstd') as typeof import('fzstd');
  /** Compressed bytes not yet walked. */
  let pending: Buffer = Buffer.alloc(0);
  let frames = 0;
  // The frame being read.
  let inFrame = false;
  let decoder: Decoder | undefined;
  let hasher: Hasher | undefined;
  let checksum = false;
  let contentSize: bigint | undefined;
  let produced = 0n;
  let out: Buffer[] = [];

  const startFrame = (): number => {
    // Magic (4), frame header descriptor (1), then window descriptor, dictionary id, content size.
    if (pending.length < 5) return 0;
    const fhd = pending[4];
    if (fhd & 0x08) throw damage(`frame ${frames + 1}: reserved bit set in the frame header`);
    const single = (fhd >> 5) & 1;
    const fcsFlag = fhd >> 6;
    const didSize = [0, 1, 2, 4][fhd & 3];
    const fcsSize = [single ? 1 : 0, 2, 4, 8][fcsFlag];
    const size = 5 + (single ? 0 : 1) + didSize + fcsSize;
    if (pending.length < size) return 0;
    if (didSize > 0) throw damage(`frame ${frames + 1} needs a dictionary (mntrace reads zstd without one)`);
    checksum = ((fhd >> 2) & 1) === 1;
    contentSize = undefined;
    if (fcsSize > 0) {
      const at = 5 + (single ? 0 : 1) + didSize;
      contentSize = fcsSize === 1 ? BigInt(pending[at]) : fcsSize === 2 ? BigInt(pending.readUInt16LE(at) + 256) : fcsSize === 4 ? BigInt(pending.readUInt32LE(at)) : pending.readBigUInt64LE(at);
    }
    // The decoder's memory is the window (the whole content for a single-segment frame): zstd's own limit.
    const window = single ? (contentSize as bigint) : windowSize(pending[5]);
    if (window > MAX_WINDOW) throw damage(`frame ${frames + 1} asks for a window of ${window} bytes (zstd decodes at most ${MAX_WINDOW} without --memory)`);
    produced = 0n;
    hasher = create64(0n) as unknown as Hasher;
    decoder = new Decompress((chunk: Uint8Array) => {
      produced += BigInt(chunk.length);
      hasher!.update(chunk);
      out.push(Buffer.from(chunk));
    });
    decoder.push(pending.subarray(0, size));
    inFrame = true;
    return size;
  };

  /** Walk as much of `pending` as is whole; returns false when more bytes are needed. */
  const step = (): number => {
    if (!inFrame) {
      if (pending.length < 4) return 0;
      const magic = pending.readUInt32LE(0);
      if (magic === ZSTD_MAGIC) return startFrame();
      if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) {
        if (pending.length < 8) return 0;
        const skip = 8 + pending.readUInt32LE(4);
        return pending.length >= skip ? skip : 0;
      }
      throw damage(frames === 0 ? 'not a zstd frame' : `${pending.length} bytes after frame ${frames} are not a zstd frame (trailing garbage)`);
    }
    if (pending.length < 3) return 0;
    const bh = pending[0] | (pending[1] << 8) | (pending[2] << 16);
    const last = bh & 1;
    const type = (bh >> 1) & 3;
    const bsize = bh >>> 3;
    if (type === 3) throw damage(`frame ${frames + 1}: reserved block type`);
    if (bsize > MAX_BLOCK) throw damage(`frame ${frames + 1}: block of ${bsize} bytes (at most ${MAX_BLOCK})`);
    const body = type === 1 ? 1 : bsize;
    const tail = last && checksum ? 4 : 0;
    if (pending.length < 3 + body + tail) return 0;
    const before = produced;
    try {
      // The last block goes with the frame's checksum: fzstd reads it (without checking it).
      (decoder as Decoder).push(pending.subarray(0, 3 + body + tail), last === 1);
    } catch (e) {
      throw damage(`frame ${frames + 1}: ${(e as Error).message}`);
    }
    if (produced - before > BigInt(MAX_BLOCK)) throw damage(`frame ${frames + 1}: a block decoded to more than ${MAX_BLOCK} bytes`);
    if (last) {
      if (contentSize !== undefined && produced !== contentSize) throw damage(`frame ${frames + 1}: ${produced} bytes decoded, its header says ${contentSize}`);
      if (tail) {
        const want = pending.readUInt32LE(3 + body);
        const got = Number((hasher as Hasher).digest() & 0xffffffffn);
        if (want !== got) throw damage(`frame ${frames + 1}: content checksum mismatch (the data is corrupt)`);
      }
      inFrame = false;
      decoder = undefined;
      hasher = undefined;
      frames++;
    }
    return 3 + body + tail;
  };

  const drain = (self: Transform): void => {
    for (const c of out) self.push(c);
    out = [];
  };

  const t: Transform = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      try {
        for (;;) {
          const used = step();
          if (used === 0) break;
          pending = pending.subarray(used);
          // Output goes on block by block: damage later in the file keeps what came before.
          drain(this);
        }
      } catch (e) {
        drain(this);
        done(e as Error);
        return;
      }
      // Never more than one block (and its header) held.
      if (pending.length > 3 + MAX_BLOCK + 4 + 18) {
        done(damage('block larger than the format allows'));
        return;
      }
      done();
    },
    flush(done: TransformCallback) {
      if (inFrame || pending.length > 0) {
        done(damage(frames === 0 && !inFrame ? 'not a zstd frame' : `the data stops in the middle of frame ${frames + 1} (the file is cut off)`, 'Z_BUF_ERROR'));
        return;
      }
      done();
    },
  });
  return t;
}
