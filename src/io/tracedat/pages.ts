/**
 * One CPU's ring-buffer pages in a trace.dat, read a page (or, compressed,
 * a chunk of pages) at a time, and the records on each page.
 *
 * Page: u64 timestamp, local_t commit (the data size; bit 31 set when events
 * were lost before this page, bit 30 when their count is stored after the
 * data), then the data (offsets from the header_page format in the file).
 * Record header: u32, the low 5 bits the type/length, the upper 27 a time
 * delta. type_len 1..28: data of 4*type_len bytes; 0: the length in the next
 * u32 (counting itself); 29 padding (delta 0: the rest of the page);
 * 30 time extend (delta += next u32 << 27); 31 absolute time stamp.
 */
import { DatError, decompressWith, type CpuData, type DatFile, type FileBytes } from './container';

export interface PageLayout {
  commitOffset: number;
  commitSize: number;
  dataOffset: number;
}

export function pageLayout(dat: DatFile): PageLayout {
  const field = (name: string) => {
    const m = new RegExp(`field:[^;]*\\b${name};\\s*offset:(\\d+);\\s*size:(\\d+);`).exec(dat.headerPage);
    return m ? { offset: Number(m[1]), size: Number(m[2]) } : undefined;
  };
  const commit = field('commit');
  const data = field('data');
  return { commitOffset: commit?.offset ?? 8, commitSize: commit?.size ?? dat.longSize, dataOffset: data?.offset ?? 16 };
}

const MISSED_EVENTS = 1n << 31n;
const MISSED_STORED = 1n << 30n;
const FLAGS = MISSED_EVENTS | MISSED_STORED;

export interface RawRecord {
  cpu: number;
  ts: bigint;
  data: Buffer;
  /** Offset of the record in this CPU's (uncompressed) data: what findings cite. */
  at: number;
}

export interface Lost {
  cpu: number;
  /** Undefined when the kernel did not store the count. */
  count?: number;
  /** Before the record at this offset. */
  at: number;
}

/**
 * A CPU's records in order, decoded page by page: next() gives the next
 * record, a lost-events marker, or undefined at the end. Holds one page
 * (or one compressed chunk) at a time.
 */
export class CpuRecords {
  private pageBuf: Buffer | undefined;
  private pageAt = 0;
  private pos = 0;
  private end = 0;
  private ts = 0n;
  /** Pages read so far (uncompressed bytes of this CPU before the current page). */
  private streamPos = 0;
  private filePos: number;
  private chunks = -1;
  private chunk: Buffer | undefined;
  private chunkPos = 0;
  private pendingLost: Lost | undefined;
  /** Set when the data stops early (cut or corrupt): what was read before is good. */
  damage: string | undefined;

  constructor(
    private readonly bytes: FileBytes,
    private readonly dat: DatFile,
    readonly cpu: CpuData,
    private readonly compressed: boolean,
    private readonly layout: PageLayout,
  ) {
    this.filePos = cpu.offset;
  }

  /** Bytes of this CPU's data read so far (of cpu.size): how far the reading is, for a progress bar. */
  get consumed(): number {
    return Math.min(this.cpu.size, Math.max(0, this.filePos - this.cpu.offset));
  }

  next(): RawRecord | Lost | undefined {
    for (;;) {
      if (this.pendingLost) {
        const l = this.pendingLost;
        this.pendingLost = undefined;
        return l;
      }
      if (this.pageBuf === undefined || this.pos >= this.end) {
        if (!this.nextPage()) return undefined;
        continue;
      }
      const r = this.record();
      if (r !== undefined) return r;
    }
  }

  private le(): boolean {
    return this.dat.littleEndian;
  }

  private u32(b: Buffer, o: number): number {
    return this.le() ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }

  /** The next page of this CPU's data, or false at its end (or damage). */
  private nextPage(): boolean {
    const ps = this.dat.pageSize;
    let page: Buffer | undefined;
    try {
      page = this.compressed ? this.nextCompressedPage() : this.nextPlainPage();
    } catch (err) {
      this.damage = `cpu${this.cpu.cpu}'s data at ${this.filePos}: ${(err as Error).message}`;
      return false;
    }
    if (page === undefined) return false;
    this.pageAt = this.streamPos;
    this.streamPos += ps;
    const L = this.layout;
    const ts = this.le() ? page.readBigUInt64LE(0) : page.readBigUInt64BE(0);
    const commitRaw = L.commitSize === 8 ? (this.le() ? page.readBigUInt64LE(L.commitOffset) : page.readBigUInt64BE(L.commitOffset)) : BigInt(this.u32(page, L.commitOffset));
    const size = Number(commitRaw & ~FLAGS & 0xfffffffn);
    if (size > ps - L.dataOffset) {
      this.damage = `cpu${this.cpu.cpu}'s page at data offset ${this.pageAt} claims ${size} bytes of data, more than a page holds: the file is corrupt from here`;
      return false;
    }
    this.pageBuf = page;
    this.ts = ts;
    this.pos = L.dataOffset;
    this.end = L.dataOffset + size;
    if ((commitRaw & MISSED_EVENTS) !== 0n) {
      let count: number | undefined;
      if ((commitRaw & MISSED_STORED) !== 0n && this.end + L.commitSize <= ps) {
        count = Number(L.commitSize === 8 ? (this.le() ? page.readBigUInt64LE(this.end) : page.readBigUInt64BE(this.end)) : BigInt(this.u32(page, this.end)));
      }
      this.pendingLost = { cpu: this.cpu.cpu, ...(count !== undefined ? { count } : {}), at: this.pageAt };
    }
    return true;
  }

  private nextPlainPage(): Buffer | undefined {
    const ps = this.dat.pageSize;
    if (this.filePos + ps > this.cpu.offset + this.cpu.size) {
      if (this.filePos < this.cpu.offset + this.cpu.size) throw new DatError('the data ends inside a page');
      return undefined;
    }
    const page = this.bytes.read(this.filePos, ps, `cpu${this.cpu.cpu}'s page`);
    this.filePos += ps;
    return page;
  }

  /** v7 compressed data: u32 chunk count, then chunks of (u32 compressed size, u32 size, data), each a whole number of pages. */
  private nextCompressedPage(): Buffer | undefined {
    const ps = this.dat.pageSize;
    while (this.chunk === undefined || this.chunkPos >= this.chunk.length) {
      if (this.chunks === -1) {
        this.chunks = this.u32(this.bytes.read(this.filePos, 4, 'the chunk count'), 0);
        this.filePos += 4;
      }
      if (this.chunks === 0) return undefined;
      const h = this.bytes.read(this.filePos, 8, `cpu${this.cpu.cpu}'s chunk header`);
      const csize = this.u32(h, 0);
      const usize = this.u32(h, 4);
      // The CPU's size counts its chunks, not the chunk count before them.
      if (this.filePos + 8 + csize > this.cpu.offset + 4 + this.cpu.size) throw new DatError('a compressed chunk runs past the CPU\'s data');
      const data = this.bytes.read(this.filePos + 8, csize, `cpu${this.cpu.cpu}'s compressed chunk`);
      this.chunk = decompressWith(this.dat.compression, data, usize);
      this.chunkPos = 0;
      this.filePos += 8 + csize;
      this.chunks--;
    }
    if (this.chunkPos + ps > this.chunk.length) throw new DatError('a decompressed chunk is not a whole number of pages');
    const page = this.chunk.subarray(this.chunkPos, this.chunkPos + ps);
    this.chunkPos += ps;
    return page;
  }

  /** Decode the record at pos; undefined for a time or padding record (the loop goes on). */
  private record(): RawRecord | undefined {
    const b = this.pageBuf as Buffer;
    const at = this.pos;
    const corrupt = (why: string) => {
      this.damage = `cpu${this.cpu.cpu}'s record at data offset ${this.pageAt + at}: ${why}: the file is corrupt from here`;
      this.pos = this.end;
      this.pageBuf = undefined;
      this.filePos = this.cpu.offset + this.cpu.size;
      this.chunks = 0;
      this.chunk = undefined;
      return undefined;
    };
    if (at + 4 > this.end) return corrupt('a record header runs past the page data');
    const head = this.u32(b, at);
    const typeLen = head & 0x1f;
    const delta = BigInt(head >>> 5);
    switch (typeLen) {
      case 29: {
        // Padding: a discarded event (its length follows), or with no delta the rest of the page.
        if (delta === 0n) {
          this.pos = this.end;
          return undefined;
        }
        if (at + 8 > this.end) return corrupt('a padding record runs past the page data');
        this.pos = at + 8 + this.u32(b, at + 4);
        this.ts += delta;
        return undefined;
      }
      case 30: {
        if (at + 8 > this.end) return corrupt('a time extend runs past the page data');
        this.ts += (BigInt(this.u32(b, at + 4)) << 27n) + delta;
        this.pos = at + 8;
        return undefined;
      }
      case 31: {
        if (at + 8 > this.end) return corrupt('an absolute time stamp runs past the page data');
        const abs = (BigInt(this.u32(b, at + 4)) << 27n) | delta;
        this.ts = abs | (this.ts & (0x1fn << 59n));
        this.pos = at + 8;
        return undefined;
      }
      case 0: {
        if (at + 8 > this.end) return corrupt('a record length runs past the page data');
        const len = this.u32(b, at + 4);
        if (len < 4 || at + 4 + len > this.end) return corrupt(`record length ${len} runs past the page data`);
        this.ts += delta;
        this.pos = at + 4 + len;
        return { cpu: this.cpu.cpu, ts: this.ts, data: b.subarray(at + 8, at + 4 + len), at: this.pageAt + at };
      }
      default: {
        const len = typeLen * 4;
        if (at + 4 + len > this.end) return corrupt(`a ${len}-byte record runs past the page data`);
        this.ts += delta;
        this.pos = at + 4 + len;
        return { cpu: this.cpu.cpu, ts: this.ts, data: b.subarray(at + 4, at + 4 + len), at: this.pageAt + at };
      }
    }
  }
}
