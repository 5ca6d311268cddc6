/**
 * A reader for BTF, the BPF Type Format the kernel publishes at /sys/kernel/btf/vmlinux.
 *
 * Layout (Documentation/bpf/btf.rst): a header (magic 0xeB9F, version 1, flags, hdr_len, then
 * type_off/type_len and str_off/str_len relative to the end of the header), a type section of
 * variable-length records and a string section of NUL-terminated names. Type ids are implicit:
 * the first record is id 1 (id 0 is `void`). The byte order is the producer's; the magic tells it.
 *
 * Accepted input: raw BTF, gzip-compressed BTF (by the magic bytes 1f 8b), and an ELF file with a
 * `.BTF` section (a vmlinux with BTF, or a kernel module .ko).
 */
import { readSmallBytes } from '../util/small-file';
import { gunzipSync } from 'node:zlib';

export const BTF_MAGIC = 0xeb9f;

/** BTF kinds, by their number in `info` bits 24-28. */
export enum BtfKind {
  UNKN = 0,
  INT = 1,
  PTR = 2,
  ARRAY = 3,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  TYPEDEF = 8,
  VOLATILE = 9,
  CONST = 10,
  RESTRICT = 11,
  FUNC = 12,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  TYPE_TAG = 18,
  ENUM64 = 19,
}

export type BtfKindName = keyof typeof BtfKind;

export interface BtfHeader {
  magic: number;
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** One record of the type section, decoded only as far as every kind shares. */
export interface BtfType {
  id: number;
  kind: BtfKind;
  /** The type's name ('' for anonymous types). */
  name: string;
  /** `info` bits 0-15: members, enumerators, parameters... */
  vlen: number;
  /** `info` bit 31. */
  kindFlag: boolean;
  /** The `size` (INT, ENUM, STRUCT, UNION, DATASEC, FLOAT, ENUM64) or `type` (the others) word. */
  sizeOrType: number;
  /** Byte offset of the record inside the type section (for error messages). */
  offset: number;
}

export interface BtfMember {
  name: string;
  typeId: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield width in bits; 0 when the member is not a bitfield. */
  bitfieldSize: number;
  /** `bitOffset / 8`, rounded down: the byte that holds the member's first bit. */
  byteOffset: number;
}

export interface BtfStruct {
  id: number;
  kind: 'struct' | 'union';
  name: string;
  /** Size in bytes. */
  size: number;
  members: BtfMember[];
  /** Find a member by name (anonymous struct/union members are searched too, offsets adjusted). */
  member(name: string): BtfMember | undefined;
}

export interface BtfEnumValue {
  name: string;
  /** The value; a bigint only when it does not fit in a safe integer (ENUM64). */
  value: number | bigint;
}

export interface BtfEnum {
  id: number;
  name: string;
  /** Size in bytes. */
  size: number;
  signed: boolean;
  values: BtfEnumValue[];
  /** Value by enumerator name. */
  valueOf(name: string): number | bigint | undefined;
}

export interface BtfParam {
  /** '' when the prototype has no name for it. */
  name: string;
  typeId: number;
}

export interface BtfFunc {
  id: number;
  name: string;
  /** 0 static, 1 global, 2 extern (the FUNC record's vlen). */
  linkage: number;
  protoId: number;
  returnTypeId: number;
  params: BtfParam[];
  /** True when the prototype ends in `...` (a last parameter with no name and type 0). */
  variadic: boolean;
}

/** A type with typedefs and qualifiers looked through. */
export interface ResolvedType {
  id: number;
  kind: BtfKind;
  name: string;
  /** Size in bytes where the kind has one (pointers: 8 unless told otherwise); undefined for void, FUNC_PROTO... */
  size: number | undefined;
  /** For INT: signedness from the encoding; for ENUM/ENUM64: the kind_flag. */
  signed: boolean;
  /** For INT: bool encoding. */
  isBool: boolean;
  /** For PTR: the pointed-to type id. */
  target?: number;
}

export class BtfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BtfError';
  }
}

const HEADER_MIN = 24;
const COMMON = 12;

/** Size of the data that follows the 12-byte common part of a record, by kind. */
function extraSize(kind: number, vlen: number): number | undefined {
  switch (kind) {
    case BtfKind.INT: return 4;
    case BtfKind.PTR: return 0;
    case BtfKind.ARRAY: return 12;
    case BtfKind.STRUCT:
    case BtfKind.UNION: return 12 * vlen;
    case BtfKind.ENUM: return 8 * vlen;
    case BtfKind.FWD:
    case BtfKind.TYPEDEF:
    case BtfKind.VOLATILE:
    case BtfKind.CONST:
    case BtfKind.RESTRICT:
    case BtfKind.FUNC: return 0;
    case BtfKind.FUNC_PROTO: return 8 * vlen;
    case BtfKind.VAR: return 4;
    case BtfKind.DATASEC: return 12 * vlen;
    case BtfKind.FLOAT: return 0;
    case BtfKind.DECL_TAG: return 4;
    case BtfKind.TYPE_TAG: return 0;
    case BtfKind.ENUM64: return 12 * vlen;
    default: return undefined;
  }
}

function hex(n: number, width = 4): string {
  return '0x' + n.toString(16).padStart(width, '0');
}

/** Options for {@link parseBtf}. */
export interface ParseBtfOptions {
  /** Name used in error messages (a file path). */
  source?: string;
  /** Pointer size in bytes of the target (default 8). */
  pointerSize?: number;
  /** The most a gzip-compressed input may decompress to (default BTF_MAX_BYTES). */
  maxBytes?: number;
}

/** A parsed BTF blob. Build it with {@link parseBtf} or {@link readBtfFile}. */
export class Btf {
  readonly header: BtfHeader;
  readonly littleEndian: boolean;
  readonly source: string;
  readonly pointerSize: number;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly typeStart: number;
  private readonly strStart: number;
  /** Record offsets (absolute, in `bytes`) by type id; index 0 unused. */
  private readonly recordOffsets: Uint32Array;
  private readonly count: number;
  private nameIndex: Map<string, number[]> | undefined;
  private readonly strCache = new Map<number, string>();
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(data: Uint8Array, options: ParseBtfOptions = {}) {
    this.source = options.source ?? 'BTF data';
    this.pointerSize = options.pointerSize ?? 8;
    this.bytes = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.length < 2) throw new BtfError(`not a BTF file: ${this.source} is ${data.length} bytes long`);
    if (data[0] === 0x9f && data[1] === 0xeb) this.littleEndian = true;
    else if (data[0] === 0xeb && data[1] === 0x9f) this.littleEndian = false;
    else throw new BtfError(`not a BTF file: bad magic ${hex((data[0] << 8) | data[1])} in ${this.source} (expected 0xeb9f)`);
    if (data.length < HEADER_MIN) throw new BtfError(`truncated BTF header in ${this.source}: ${data.length} bytes, need at least ${HEADER_MIN}`);
    const le = this.littleEndian;
    const v = this.view;
    this.header = {
      magic: v.getUint16(0, le),
      version: v.getUint8(2),
      flags: v.getUint8(3),
      hdrLen: v.getUint32(4, le),
      typeOff: v.getUint32(8, le),
      typeLen: v.getUint32(12, le),
      strOff: v.getUint32(16, le),
      strLen: v.getUint32(20, le),
    };
    const h = this.header;
    if (h.version !== 1) throw new BtfError(`unsupported BTF version ${h.version} in ${this.source} (this reader knows version 1)`);
    if (h.hdrLen < HEADER_MIN || h.hdrLen > data.length) {
      throw new BtfError(`bad BTF header in ${this.source}: hdr_len ${h.hdrLen} (file is ${data.length} bytes)`);
    }
    this.typeStart = h.hdrLen + h.typeOff;
    this.strStart = h.hdrLen + h.strOff;
    if (h.typeOff % 4 !== 0) throw new BtfError(`bad BTF header in ${this.source}: type_off ${h.typeOff} is not 4-byte aligned`);
    if (this.typeStart + h.typeLen > data.length) {
      throw new BtfError(`truncated BTF in ${this.source}: the type section ends at byte ${this.typeStart + h.typeLen} but the data has ${data.length} bytes`);
    }
    if (this.strStart + h.strLen > data.length) {
      throw new BtfError(`truncated BTF in ${this.source}: the string section ends at byte ${this.strStart + h.strLen} but the data has ${data.length} bytes`);
    }
    if (h.strLen > 0 && data[this.strStart] !== 0) throw new BtfError(`bad BTF string section in ${this.source}: it must start with an empty string`);
    if (h.strLen > 0 && data[this.strStart + h.strLen - 1] !== 0) throw new BtfError(`bad BTF string section in ${this.source}: the last string is not NUL-terminated`);

    // Walk the type section once to learn where every record starts.
    const offsets: number[] = [0];
    let p = this.typeStart;
    const end = this.typeStart + h.typeLen;
    while (p < end) {
      if (p + COMMON > end) throw new BtfError(`truncated BTF type record at type section offset ${p - this.typeStart} in ${this.source}`);
      const info = v.getUint32(p + 4, le);
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const extra = extraSize(kind, vlen);
      if (extra === undefined) {
        throw new BtfError(`unknown BTF kind ${kind} for type id ${offsets.length} at type section offset ${p - this.typeStart} in ${this.source}`);
      }
      const next = p + COMMON + extra;
      if (next > end) {
        throw new BtfError(`truncated BTF: type id ${offsets.length} (${BtfKind[kind]}) at type section offset ${p - this.typeStart} runs past the end of the type section in ${this.source}`);
      }
      offsets.push(p);
      p = next;
    }
    this.recordOffsets = Uint32Array.from(offsets);
    this.count = offsets.length - 1;
  }

  /** Number of types (ids 1..typeCount). */
  get typeCount(): number {
    return this.count;
  }

  /** The string at `off` in the string section. */
  str(off: number): string {
    const cached = this.strCache.get(off);
    if (cached !== undefined) return cached;
    if (off >= this.header.strLen) throw new BtfError(`BTF string offset ${off} is outside the string section (${this.header.strLen} bytes) in ${this.source}`);
    const start = this.strStart + off;
    let e = start;
    while (this.bytes[e] !== 0) e++;
    const s = this.decoder.decode(this.bytes.subarray(start, e));
    this.strCache.set(off, s);
    return s;
  }

  private u32(abs: number): number {
    return this.view.getUint32(abs, this.littleEndian);
  }

  private i32(abs: number): number {
    return this.view.getInt32(abs, this.littleEndian);
  }

  private record(id: number): number {
    if (!Number.isInteger(id) || id < 1 || id > this.count) throw new BtfError(`BTF type id ${id} is out of range (1..${this.count}) in ${this.source}`);
    return this.recordOffsets[id];
  }

  /** The common part of type `id`. Id 0 is `void` and has no record. */
  type(id: number): BtfType {
    const p = this.record(id);
    const info = this.u32(p + 4);
    return {
      id,
      kind: (info >>> 24) & 0x1f,
      name: this.str(this.u32(p)),
      vlen: info & 0xffff,
      kindFlag: (info >>> 31) === 1,
      sizeOrType: this.u32(p + 8),
      offset: p - this.typeStart,
    };
  }

  private nameOffOf(id: number): number {
    return this.u32(this.recordOffsets[id]);
  }

  private kindOf(id: number): BtfKind {
    return (this.u32(this.recordOffsets[id] + 4) >>> 24) & 0x1f;
  }

  /** Ids of all types called `name`, optionally of one kind. */
  findByName(name: string, kind?: BtfKind): number[] {
    if (!this.nameIndex) {
      const index = new Map<string, number[]>();
      for (let id = 1; id <= this.count; id++) {
        const off = this.nameOffOf(id);
        if (off === 0) continue;
        const n = this.str(off);
        const list = index.get(n);
        if (list) list.push(id);
        else index.set(n, [id]);
      }
      this.nameIndex = index;
    }
    const ids = this.nameIndex.get(name) ?? [];
    return kind === undefined ? ids.slice() : ids.filter((id) => this.kindOf(id) === kind);
  }

  /** Members of a STRUCT or UNION type id. */
  members(id: number): BtfMember[] {
    const t = this.type(id);
    if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) {
      throw new BtfError(`BTF type id ${id} is ${BtfKind[t.kind]}, not a struct or union`);
    }
    const p = this.recordOffsets[id] + COMMON;
    const out: BtfMember[] = [];
    for (let i = 0; i < t.vlen; i++) {
      const m = p + i * 12;
      const raw = this.u32(m + 8);
      const bitOffset = t.kindFlag ? raw & 0xffffff : raw;
      const bitfieldSize = t.kindFlag ? raw >>> 24 : 0;
      out.push({ name: this.str(this.u32(m)), typeId: this.u32(m + 4), bitOffset, bitfieldSize, byteOffset: Math.floor(bitOffset / 8) });
    }
    return out;
  }

  /**
   * Find a struct (or union, with `kind: 'union'`) by name. A forward declaration does not count;
   * when several complete definitions exist (rare in deduplicated BTF), the first is returned.
   */
  findStruct(name: string, kind: 'struct' | 'union' = 'struct'): BtfStruct | undefined {
    const want = kind === 'struct' ? BtfKind.STRUCT : BtfKind.UNION;
    const id = this.findByName(name, want)[0];
    if (id === undefined) return undefined;
    return this.structById(id);
  }

  /** The struct or union with this id. */
  structById(id: number): BtfStruct {
    const t = this.type(id);
    const members = this.members(id);
    const lookup = (n: string): BtfMember | undefined => this.findMember(id, n, 0);
    return { id, kind: t.kind === BtfKind.STRUCT ? 'struct' : 'union', name: t.name, size: t.sizeOrType, members, member: lookup };
  }

  private findMember(id: number, name: string, baseBits: number): BtfMember | undefined {
    for (const m of this.members(id)) {
      if (m.name === name) return { ...m, bitOffset: m.bitOffset + baseBits, byteOffset: Math.floor((m.bitOffset + baseBits) / 8) };
    }
    for (const m of this.members(id)) {
      if (m.name !== '') continue;
      const r = this.resolve(m.typeId);
      if (r.kind === BtfKind.STRUCT || r.kind === BtfKind.UNION) {
        const found = this.findMember(r.id, name, baseBits + m.bitOffset);
        if (found) return found;
      }
    }
    return undefined;
  }

  /** Find an enum (ENUM or ENUM64) by name. */
  findEnum(name: string): BtfEnum | undefined {
    const id = this.findByName(name).find((i) => {
      const k = this.kindOf(i);
      return k === BtfKind.ENUM || k === BtfKind.ENUM64;
    });
    if (id === undefined) return undefined;
    return this.enumById(id);
  }

  /** The ENUM or ENUM64 with this id. */
  enumById(id: number): BtfEnum {
    const t = this.type(id);
    const p = this.recordOffsets[id] + COMMON;
    const values: BtfEnumValue[] = [];
    const signed = t.kindFlag;
    if (t.kind === BtfKind.ENUM) {
      for (let i = 0; i < t.vlen; i++) {
        const e = p + i * 8;
        values.push({ name: this.str(this.u32(e)), value: signed ? this.i32(e + 4) : this.u32(e + 4) });
      }
    } else if (t.kind === BtfKind.ENUM64) {
      for (let i = 0; i < t.vlen; i++) {
        const e = p + i * 12;
        const lo = BigInt(this.u32(e + 4));
        const hi = BigInt(this.u32(e + 8));
        let v = (hi << 32n) | lo;
        if (signed) v = BigInt.asIntN(64, v);
        const small = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
        values.push({ name: this.str(this.u32(e)), value: small ? Number(v) : v });
      }
    } else {
      throw new BtfError(`BTF type id ${id} is ${BtfKind[t.kind]}, not an enum`);
    }
    return {
      id,
      name: t.name,
      size: t.sizeOrType,
      signed,
      values,
      valueOf: (n: string) => values.find((v) => v.name === n)?.value,
    };
  }

  /** Find a function (FUNC record with its FUNC_PROTO) by name. */
  findFunc(name: string): BtfFunc | undefined {
    const id = this.findByName(name, BtfKind.FUNC)[0];
    if (id === undefined) return undefined;
    return this.funcById(id);
  }

  /** The FUNC with this id. */
  funcById(id: number): BtfFunc {
    const t = this.type(id);
    if (t.kind !== BtfKind.FUNC) throw new BtfError(`BTF type id ${id} is ${BtfKind[t.kind]}, not a function`);
    const proto = this.type(t.sizeOrType);
    if (proto.kind !== BtfKind.FUNC_PROTO) {
      throw new BtfError(`BTF function ${t.name} (id ${id}) points to type id ${proto.id}, a ${BtfKind[proto.kind]}, not a FUNC_PROTO`);
    }
    const p = this.recordOffsets[proto.id] + COMMON;
    const params: BtfParam[] = [];
    for (let i = 0; i < proto.vlen; i++) {
      params.push({ name: this.str(this.u32(p + i * 8)), typeId: this.u32(p + i * 8 + 4) });
    }
    const last = params[params.length - 1];
    const variadic = last !== undefined && last.name === '' && last.typeId === 0;
    if (variadic) params.pop();
    return { id, name: t.name, linkage: t.vlen, protoId: proto.id, returnTypeId: proto.sizeOrType, params, variadic };
  }

  /** Array element type, index type and element count of an ARRAY type id. */
  array(id: number): { elemTypeId: number; indexTypeId: number; nelems: number } {
    const t = this.type(id);
    if (t.kind !== BtfKind.ARRAY) throw new BtfError(`BTF type id ${id} is ${BtfKind[t.kind]}, not an array`);
    const p = this.recordOffsets[id] + COMMON;
    return { elemTypeId: this.u32(p), indexTypeId: this.u32(p + 4), nelems: this.u32(p + 8) };
  }

  /** Encoding word of an INT: `{ signed, char, bool, bitOffset, bits }`. */
  intEncoding(id: number): { signed: boolean; char: boolean; bool: boolean; bitOffset: number; bits: number } {
    const t = this.type(id);
    if (t.kind !== BtfKind.INT) throw new BtfError(`BTF type id ${id} is ${BtfKind[t.kind]}, not an int`);
    const w = this.u32(this.recordOffsets[id] + COMMON);
    const enc = (w >>> 24) & 0x0f;
    return { signed: (enc & 1) !== 0, char: (enc & 2) !== 0, bool: (enc & 4) !== 0, bitOffset: (w >>> 16) & 0xff, bits: w & 0xff };
  }

  /** Look through typedefs, const/volatile/restrict and type tags to the type that has a shape. */
  resolve(id: number): ResolvedType {
    let cur = id;
    for (let hops = 0; hops < 64; hops++) {
      if (cur === 0) return { id: 0, kind: BtfKind.UNKN, name: 'void', size: undefined, signed: false, isBool: false };
      const t = this.type(cur);
      switch (t.kind) {
        case BtfKind.TYPEDEF:
        case BtfKind.VOLATILE:
        case BtfKind.CONST:
        case BtfKind.RESTRICT:
        case BtfKind.TYPE_TAG:
          cur = t.sizeOrType;
          continue;
        case BtfKind.INT: {
          const e = this.intEncoding(cur);
          return { id: cur, kind: t.kind, name: t.name, size: t.sizeOrType, signed: e.signed, isBool: e.bool };
        }
        case BtfKind.PTR:
          return { id: cur, kind: t.kind, name: t.name, size: this.pointerSize, signed: false, isBool: false, target: t.sizeOrType };
        case BtfKind.ENUM:
        case BtfKind.ENUM64:
          return { id: cur, kind: t.kind, name: t.name, size: t.sizeOrType, signed: t.kindFlag, isBool: false };
        case BtfKind.STRUCT:
        case BtfKind.UNION:
        case BtfKind.FLOAT:
        case BtfKind.DATASEC:
          return { id: cur, kind: t.kind, name: t.name, size: t.sizeOrType, signed: false, isBool: false };
        case BtfKind.ARRAY: {
          const a = this.array(cur);
          const el = this.resolve(a.elemTypeId);
          return { id: cur, kind: t.kind, name: t.name, size: el.size === undefined ? undefined : el.size * a.nelems, signed: false, isBool: false };
        }
        default:
          return { id: cur, kind: t.kind, name: t.name, size: undefined, signed: false, isBool: false };
      }
    }
    throw new BtfError(`BTF type id ${id}: typedef/qualifier chain longer than 64 links in ${this.source}`);
  }

  /** A C-like spelling of a type, for messages (`struct mm_struct *`, `unsigned int`, `bool`). */
  typeName(id: number): string {
    if (id === 0) return 'void';
    const t = this.type(id);
    switch (t.kind) {
      case BtfKind.PTR: return `${this.typeName(t.sizeOrType)} *`;
      case BtfKind.STRUCT: return `struct ${t.name || '(anon)'}`;
      case BtfKind.UNION: return `union ${t.name || '(anon)'}`;
      case BtfKind.ENUM:
      case BtfKind.ENUM64: return `enum ${t.name || '(anon)'}`;
      case BtfKind.FWD: return `${t.kindFlag ? 'union' : 'struct'} ${t.name}`;
      case BtfKind.CONST: return `const ${this.typeName(t.sizeOrType)}`;
      case BtfKind.VOLATILE: return `volatile ${this.typeName(t.sizeOrType)}`;
      case BtfKind.RESTRICT: return `${this.typeName(t.sizeOrType)} restrict`;
      case BtfKind.TYPE_TAG: return this.typeName(t.sizeOrType);
      case BtfKind.ARRAY: {
        const a = this.array(id);
        return `${this.typeName(a.elemTypeId)}[${a.nelems}]`;
      }
      case BtfKind.FUNC_PROTO: return 'function';
      default: return t.name || `(${BtfKind[t.kind]})`;
    }
  }

  /** Count of types per kind (diagnostics, tests). */
  kindCounts(): Partial<Record<BtfKindName, number>> {
    const out: Partial<Record<BtfKindName, number>> = {};
    for (let id = 1; id <= this.count; id++) {
      const k = BtfKind[this.kindOf(id)] as BtfKindName;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }
}

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

function isElf(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** The bytes of the `.BTF` section of an ELF file. */
export function extractElfBtf(b: Uint8Array, source = 'ELF file'): Uint8Array {
  const cls = b[4];
  const data = b[5];
  if (cls !== 1 && cls !== 2) throw new BtfError(`${source}: unknown ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw new BtfError(`${source}: unknown ELF byte order ${data}`);
  const le = data === 1;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const is64 = cls === 2;
  const need = is64 ? 64 : 52;
  if (b.length < need) throw new BtfError(`${source}: truncated ELF header`);
  const word = (off: number): number => (is64 ? Number(v.getBigUint64(off, le)) : v.getUint32(off, le));
  const shoff = word(is64 ? 0x28 : 0x20);
  const shentsize = v.getUint16(is64 ? 0x3a : 0x2e, le);
  let shnum = v.getUint16(is64 ? 0x3c : 0x30, le);
  let shstrndx = v.getUint16(is64 ? 0x3e : 0x32, le);
  if (shoff === 0) throw new BtfError(`${source}: ELF file has no section headers, so no .BTF section`);
  const sec = (i: number): { name: number; offset: number; size: number } => {
    const s = shoff + i * shentsize;
    if (s + shentsize > b.length) throw new BtfError(`${source}: truncated ELF section header table`);
    return {
      name: v.getUint32(s, le),
      offset: is64 ? Number(v.getBigUint64(s + 0x18, le)) : v.getUint32(s + 0x10, le),
      size: is64 ? Number(v.getBigUint64(s + 0x20, le)) : v.getUint32(s + 0x14, le),
    };
  };
  // Extended numbering: the real counts live in section 0.
  if (shnum === 0) shnum = sec(0).size;
  if (shstrndx === 0xffff) shstrndx = v.getUint32(shoff + (is64 ? 0x28 : 0x18), le);
  const names = sec(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    let e = names.offset + s.name;
    const start = e;
    while (e < b.length && b[e] !== 0) e++;
    const name = Buffer.from(b.subarray(start, e)).toString('latin1');
    if (name === '.BTF') {
      if (s.offset + s.size > b.length) throw new BtfError(`${source}: the .BTF section runs past the end of the file`);
      return b.subarray(s.offset, s.offset + s.size);
    }
  }
  throw new BtfError(`${source}: ELF file has no .BTF section (was the kernel built with CONFIG_DEBUG_INFO_BTF?)`);
}

/**
 * The largest BTF input read, file or decompressed: a kernel's BTF is a few
 * MiB, a vmlinux ELF with it (and DWARF) some hundreds; more is the wrong file
 * (or /dev/zero) and is refused instead of filling memory.
 */
export const BTF_MAX_BYTES = 1 << 30;
/** The most read of BTF that is not a regular file (`--btf <(zcat vmlinux.btf.gz)`): the BTF alone, a few MiB. */
const BTF_STREAM_MAX_BYTES = 64 << 20;

/** Parse BTF from raw, gzip-compressed or ELF bytes. */
export function parseBtf(input: Uint8Array, options: ParseBtfOptions = {}): Btf {
  const source = options.source ?? 'BTF data';
  let bytes = input;
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: options.maxBytes ?? BTF_MAX_BYTES });
    } catch (err) {
      throw new BtfError(`${source}: gzip data could not be decompressed: ${(err as Error).message}`);
    }
  }
  if (isElf(bytes)) bytes = extractElfBtf(bytes, source);
  return new Btf(bytes, { ...options, source });
}

/** Read and parse a BTF file (/sys/kernel/btf/vmlinux, a saved copy, a .gz of it, or a vmlinux ELF). */
export function readBtfFile(path: string, options: Omit<ParseBtfOptions, 'source'> = {}): Btf {
  let data: Buffer;
  try {
    // Not a regular file (a pipe, a device such as /dev/zero): no size to trust, and far less is read before giving up.
    data = readSmallBytes(path, BTF_MAX_BYTES, BTF_STREAM_MAX_BYTES);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new BtfError(`cannot read BTF file ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  return parseBtf(data, { ...options, source: path });
}
