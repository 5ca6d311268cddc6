/**
 * gzip input, member by member (RFC 1952), checked as `gzip -t` checks it.
 *
 * Node's createGunzip decodes concatenated members itself, but when bytes
 * that are not a member follow the last one (trailing garbage) it fails
 * inside the same write that ended the member and drops what that write
 * decoded: up to a megabyte of intact lines before the garbage, never read.
 * So the members are walked here: each member's header is read here, its
 * deflate data goes to zlib's raw inflater (which stops at the end of the
 * deflate stream and says how many bytes it used), and its trailer (CRC-32
 * and length of the output) is checked here. Every byte decoded is passed on
 * before any damage is said. Zero bytes after the last member are padding
 * (tape blocks, `dd`) and are skipped as gzip skips them; anything else
 * after it is damage, as is a bad header, a bad trailer or data cut off.
 */
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { crc32, createInflateRaw, type InflateRaw } from 'node:zlib';
import { decodeDamage, type DecompressedStream } from './damage';

/** The output: a PassThrough whose `failure` is set after every byte decoded before it. */
type CheckedOutput = PassThrough & DecompressedStream;

const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;
const FRESERVED = 0xe0;

const damage = (message: string, code?: string) => decodeDamage('gzip', message, code);

/** Compressed bytes, read in the chunks the file gives, with what a member did not use put back. */
class ByteReader {
  private chunk: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  /** Bytes taken so far (for the messages). */
  offset = 0;
  constructor(src: Readable) {
    this.it = src[Symbol.asyncIterator]();
  }
  /** The next chunk of unread bytes (all that is buffered), or undefined at the end of the input. */
  async next(): Promise<Buffer | undefined> {
    if (this.chunk.length === 0) {
      const r = await this.it.next();
      if (r.done) return undefined;
      this.chunk = r.value as Buffer;
    }
    const c = this.chunk;
    this.chunk = Buffer.alloc(0);
    this.offset += c.length;
    return c;
  }
  /** Put back the unused end of what next() gave. */
  unread(tail: Buffer): void {
    this.chunk = tail.length && this.chunk.length ? Buffer.concat([tail, this.chunk]) : tail.length ? tail : this.chunk;
    this.offset -= tail.length;
  }
  /** The next byte without taking it, or -1 at the end. */
  async peek(): Promise<number> {
    while (this.chunk.length === 0) {
      const r = await this.it.next();
      if (r.done) return -1;
      this.chunk = r.value as Buffer;
    }
    return this.chunk[0];
  }
  /** Exactly `n` bytes (n is small: headers and trailers), or fewer at the end of the input. */
  async exact(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const c = await this.next();
      if (!c) break;
      const take = Math.min(n - have, c.length);
      parts.push(c.subarray(0, take));
      this.unread(c.subarray(take));
      have += take;
    }
    return Buffer.concat(parts);
  }
}

const cutOff = (what: string) => damage(`the data stops inside a member's ${what} (the file is cut off)`, 'Z_BUF_ERROR');

/** Read one member header; false at the end of the input after a member (and any zero padding). */
async function readHeader(input: ByteReader, first: boolean): Promise<boolean> {
  if (!first) {
    const b = await input.peek();
    if (b === -1) return false;
    if (b !== 0x1f) {
      // Not another member: zero padding is skipped to the end, anything else is damage.
      for (;;) {
        const at = input.offset;
        const c = await input.next();
        if (!c) return false;
        const bad = c.findIndex((x) => x !== 0);
        if (bad >= 0) throw damage(`byte ${at + bad} and on are not another gzip member (trailing garbage after the last member)`);
      }
    }
  }
  const start = input.offset;
  const fixed = await input.exact(10);
  if (fixed.length < 10) throw cutOff('header');
  if (fixed[0] !== 0x1f || fixed[1] !== 0x8b) throw damage(`byte ${start} does not start a gzip member`);
  if (fixed[2] !== 8) throw damage(`unknown compression method ${fixed[2]} in the member at byte ${start}`);
  const flags = fixed[3];
  if (flags & FRESERVED) throw damage(`reserved header flags set in the member at byte ${start}`);
  if (flags & FEXTRA) {
    const len = await input.exact(2);
    if (len.length < 2) throw cutOff('header');
    let left = len.readUInt16LE(0);
    while (left > 0) {
      const c = await input.next();
      if (!c) throw cutOff('header');
      const take = Math.min(left, c.length);
      input.unread(c.subarray(take));
      left -= take;
    }
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    // A zero-terminated string of any length.
    for (;;) {
      const c = await input.next();
      if (!c) throw cutOff('header');
      const z = c.indexOf(0);
      if (z >= 0) {
        input.unread(c.subarray(z + 1));
        break;
      }
    }
  }
  if (flags & FHCRC && (await input.exact(2)).length < 2) throw cutOff('header');
  return true;
}

/** Decode one member's deflate data into `out`; gives its CRC-32 and length (mod 2^32). */
async function inflateMember(input: ByteReader, out: CheckedOutput): Promise<{ crc: number; size: number }> {
  const inflater: InflateRaw = createInflateRaw({ chunkSize: 1 << 20 });
  let crc = 0;
  let size = 0;
  inflater.on('data', (c: Buffer) => {
    crc = crc32(c, crc);
    size = (size + c.length) >>> 0;
    if (!out.write(c)) {
      inflater.pause();
      out.once('drain', () => inflater.resume());
    }
  });
  const ended = new Promise<void>((resolve, reject) => {
    inflater.once('end', resolve);
    inflater.once('error', reject);
  });
  ended.catch(() => {});
  let given = 0;
  for (;;) {
    const c = await input.next();
    if (!c) {
      // The input ended inside the deflate data (or exactly at its end, with the trailer missing).
      inflater.end();
      await ended.catch((e: NodeJS.ErrnoException) => { throw damage(`${e.message}`, e.code); });
      throw cutOff('trailer');
    }
    // A write that meets damage gets no callback, only the stream's error.
    const failed = await new Promise<NodeJS.ErrnoException | null | undefined>((resolve) => {
      inflater.once('error', resolve);
      inflater.write(c, (e) => {
        inflater.off('error', resolve);
        resolve(e);
      });
    });
    if (failed) throw damage(`${failed.message}`, failed.code);
    given += c.length;
    // The inflater takes every byte it is given until its deflate stream ends; what it left is the trailer and beyond.
    if (inflater.bytesWritten < given) {
      input.unread(c.subarray(c.length - (given - inflater.bytesWritten)));
      break;
    }
  }
  await ended;
  return { crc, size };
}

/** gzip bytes in, decoded bytes out; damage is set as `failure` after every byte before it has been written. */
export function gunzipChecked(src: Readable): CheckedOutput {
  const out: CheckedOutput = new PassThrough();
  const input = new ByteReader(src);
  // The reader stopped (Ctrl-C on live input): stop reading the input too.
  out.on('close', () => src.destroy());
  (async () => {
    for (let first = true; await readHeader(input, first); first = false) {
      const member = input.offset;
      const { crc, size } = await inflateMember(input, out);
      const trailer = await input.exact(8);
      if (trailer.length < 8) throw cutOff('trailer');
      if (trailer.readUInt32LE(0) !== crc) throw damage(`the CRC-32 of the member that starts near byte ${member} does not match its data`);
      if (trailer.readUInt32LE(4) !== size) throw damage(`the length of the member that starts near byte ${member} does not match its data`);
    }
  })().then(
    () => out.end(),
    (e: NodeJS.ErrnoException) => {
      // Damage (Z_DATA_ERROR, Z_BUF_ERROR) or a read error of the input (EIO): said by the reader after the lines.
      out.failure = e;
      out.end();
    },
  );
  return out;
}
