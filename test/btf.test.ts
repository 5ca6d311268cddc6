import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Btf, BTF_MAX_BYTES, BtfError, BtfKind, parseBtf, readBtfFile } from '../src/btf/reader';

const ROOT = join(__dirname, '..', '..');
const REAL_BTF = join(ROOT, 'fixtures', 'real', 'btf', 'vmlinux-6.1.0-56-amd64.btf.gz');

/** Writes BTF in either byte order, one record at a time (a test-only producer). */
class BtfBuilder {
  private readonly strings: string[] = [''];
  private readonly offsets = new Map<string, number>([['', 0]]);
  private strLen = 1;
  private readonly words: number[] = [];
  private nextId = 1;

  constructor(private readonly littleEndian: boolean) {}

  str(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const off = this.strLen;
    this.offsets.set(s, off);
    this.strings.push(s);
    this.strLen += Buffer.byteLength(s) + 1;
    return off;
  }

  /** Add a record; `extra` are the u32 words after the 12-byte common part. Returns the new id. */
  add(kind: BtfKind, name: string, opts: { vlen?: number; kindFlag?: boolean; sizeOrType?: number; extra?: number[] } = {}): number {
    const info = ((opts.kindFlag ? 1 : 0) << 31) | ((kind & 0x1f) << 24) | ((opts.vlen ?? 0) & 0xffff);
    this.words.push(this.str(name), info >>> 0, (opts.sizeOrType ?? 0) >>> 0, ...(opts.extra ?? []).map((w) => w >>> 0));
    return this.nextId++;
  }

  build(overrides: Partial<{ version: number; typeLen: number }> = {}): Buffer {
    const types = Buffer.alloc(this.words.length * 4);
    this.words.forEach((w, i) => (this.littleEndian ? types.writeUInt32LE(w, i * 4) : types.writeUInt32BE(w, i * 4)));
    const strs = Buffer.concat(this.strings.map((s) => Buffer.concat([Buffer.from(s), Buffer.from([0])])));
    const h = Buffer.alloc(24);
    const u16 = (v: number, o: number): number => (this.littleEndian ? h.writeUInt16LE(v, o) : h.writeUInt16BE(v, o));
    const u32 = (v: number, o: number): number => (this.littleEndian ? h.writeUInt32LE(v, o) : h.writeUInt32BE(v, o));
    u16(0xeb9f, 0);
    h.writeUInt8(overrides.version ?? 1, 2);
    h.writeUInt8(0, 3);
    u32(24, 4);
    u32(0, 8);
    u32(overrides.typeLen ?? types.length, 12);
    u32(types.length, 16);
    u32(strs.length, 20);
    return Buffer.concat([h, types, strs]);
  }
}

/** A small BTF that uses every kind, ending with a struct whose lookup proves every record was skipped right. */
function buildAllKinds(le: boolean): { bytes: Buffer; ids: Record<string, number> } {
  const b = new BtfBuilder(le);
  const ids: Record<string, number> = {};
  // INT: encoding word = (encoding << 24) | (offset << 16) | bits
  ids.uint = b.add(BtfKind.INT, 'unsigned int', { sizeOrType: 4, extra: [32] });
  ids.ulong = b.add(BtfKind.INT, 'long unsigned int', { sizeOrType: 8, extra: [64] });
  ids.bool = b.add(BtfKind.INT, '_Bool', { sizeOrType: 1, extra: [(4 << 24) | 8] });
  ids.int = b.add(BtfKind.INT, 'int', { sizeOrType: 4, extra: [(1 << 24) | 32] });
  ids.fwdMm = b.add(BtfKind.FWD, 'mm_struct');
  ids.ptrMm = b.add(BtfKind.PTR, '', { sizeOrType: ids.fwdMm });
  ids.arr = b.add(BtfKind.ARRAY, '', { extra: [ids.uint, ids.int, 16] });
  ids.volatile = b.add(BtfKind.VOLATILE, '', { sizeOrType: ids.uint });
  ids.const = b.add(BtfKind.CONST, '', { sizeOrType: ids.volatile });
  ids.restrict = b.add(BtfKind.RESTRICT, '', { sizeOrType: ids.ptrMm });
  ids.typedef = b.add(BtfKind.TYPEDEF, 'u32', { sizeOrType: ids.const });
  ids.float = b.add(BtfKind.FLOAT, 'double', { sizeOrType: 8 });
  ids.typeTag = b.add(BtfKind.TYPE_TAG, 'user', { sizeOrType: ids.ulong });
  // ENUM (signed via kind_flag) and ENUM64 with a value beyond 2^53.
  ids.enum = b.add(BtfKind.ENUM, 'mmu_notifier_event', {
    vlen: 3,
    sizeOrType: 4,
    extra: [b.str('MMU_NOTIFY_UNMAP'), 0, b.str('MMU_NOTIFY_CLEAR'), 1, b.str('MMU_NOTIFY_EXCLUSIVE'), 7],
  });
  ids.senum = b.add(BtfKind.ENUM, 'signed_e', { vlen: 1, kindFlag: true, sizeOrType: 4, extra: [b.str('MINUS_ONE'), -1] });
  ids.enum64 = b.add(BtfKind.ENUM64, 'big_e', {
    vlen: 2,
    sizeOrType: 8,
    extra: [b.str('SMALL'), 5, 0, b.str('HUGE'), 0x00000001, 0x80000000],
  });
  // FUNC_PROTO int (struct mm_struct *mm, unsigned long start, ...) and its FUNC.
  ids.proto = b.add(BtfKind.FUNC_PROTO, '', { vlen: 3, sizeOrType: ids.int, extra: [b.str('mm'), ids.ptrMm, b.str('start'), ids.ulong, 0, 0] });
  ids.func = b.add(BtfKind.FUNC, 'legacy_start', { vlen: 1, sizeOrType: ids.proto });
  ids.var = b.add(BtfKind.VAR, 'some_var', { sizeOrType: ids.int, extra: [1] });
  ids.datasec = b.add(BtfKind.DATASEC, '.data', { vlen: 1, sizeOrType: 4, extra: [ids.var, 0, 4] });
  // An anonymous union holding two members, embedded in the struct below.
  ids.anon = b.add(BtfKind.UNION, '', { vlen: 2, sizeOrType: 8, extra: [b.str('owner'), ids.ptrMm, 0, b.str('owner_alias'), ids.ulong, 0] });
  // A struct with bitfields (kind_flag: offset = (bitfield_size << 24) | bit_offset).
  ids.struct = b.add(BtfKind.STRUCT, 'mmu_notifier_range', {
    vlen: 6,
    kindFlag: true,
    sizeOrType: 40,
    extra: [
      b.str('mm'), ids.ptrMm, 0,
      b.str('start'), ids.ulong, 64,
      b.str('end'), ids.ulong, 128,
      b.str('flags'), ids.typedef, (3 << 24) | 192,
      b.str('event'), ids.enum, (0 << 24) | 224,
      b.str(''), ids.anon, 256,
    ],
  });
  ids.declTag = b.add(BtfKind.DECL_TAG, 'a_tag', { sizeOrType: ids.struct, extra: [-1] });
  ids.last = b.add(BtfKind.STRUCT, 'after_everything', { vlen: 1, sizeOrType: 4, extra: [b.str('x'), ids.int, 0] });
  return { bytes: b.build(), ids };
}

describe('BTF reader on the real Debian 6.1 vmlinux BTF', () => {
  const btf = readBtfFile(REAL_BTF);

  test('header', () => {
    assert.equal(btf.littleEndian, true);
    assert.deepEqual(btf.header, {
      magic: 0xeb9f, version: 1, flags: 0, hdrLen: 24, typeOff: 0, typeLen: 2565456, strOff: 2565456, strLen: 1794309,
    });
    assert.equal(btf.typeCount, 100750);
    const counts = btf.kindCounts();
    assert.equal(counts.FUNC, 44546);
    assert.equal(counts.STRUCT, 8721);
    assert.equal(counts.ENUM64, 7);
  });

  test('struct mmu_notifier_range: members and byte offsets', () => {
    const s = btf.findStruct('mmu_notifier_range');
    assert.ok(s);
    assert.equal(s.size, 48);
    assert.deepEqual(
      s.members.map((m) => [m.name, m.byteOffset, m.bitfieldSize, btf.typeName(m.typeId)]),
      [
        ['vma', 0, 0, 'struct vm_area_struct *'],
        ['mm', 8, 0, 'struct mm_struct *'],
        ['start', 16, 0, 'long unsigned int'],
        ['end', 24, 0, 'long unsigned int'],
        ['flags', 32, 0, 'unsigned int'],
        ['event', 36, 0, 'enum mmu_notifier_event'],
        ['owner', 40, 0, 'void *'],
      ],
    );
    assert.equal(btf.resolve(s.member('flags')!.typeId).size, 4);
    assert.equal(btf.resolve(s.member('mm')!.typeId).kind, BtfKind.PTR);
  });

  test('enum mmu_notifier_event', () => {
    const e = btf.findEnum('mmu_notifier_event');
    assert.ok(e);
    assert.equal(e.size, 4);
    assert.deepEqual(
      e.values.map((v) => [v.name, v.value]),
      [
        ['MMU_NOTIFY_UNMAP', 0], ['MMU_NOTIFY_CLEAR', 1], ['MMU_NOTIFY_PROTECTION_VMA', 2], ['MMU_NOTIFY_PROTECTION_PAGE', 3],
        ['MMU_NOTIFY_SOFT_DIRTY', 4], ['MMU_NOTIFY_RELEASE', 5], ['MMU_NOTIFY_MIGRATE', 6], ['MMU_NOTIFY_EXCLUSIVE', 7],
      ],
    );
    assert.equal(e.valueOf('MMU_NOTIFY_RELEASE'), 5);
  });

  test('functions and their parameters', () => {
    const end = btf.findFunc('__mmu_notifier_invalidate_range_end');
    assert.ok(end);
    assert.deepEqual(end.params.map((p) => [p.name, btf.typeName(p.typeId)]), [
      ['range', 'struct mmu_notifier_range *'],
      ['only_end', 'bool'],
    ]);
    assert.equal(btf.resolve(end.params[1].typeId).isBool, true);
    const start = btf.findFunc('__mmu_notifier_invalidate_range_start');
    assert.ok(start);
    assert.equal(btf.typeName(start.returnTypeId), 'int');
    assert.ok(btf.findFunc('__mmu_notifier_invalidate_range'));
    assert.equal(btf.findFunc('__mmu_notifier_arch_invalidate_secondary_tlbs'), undefined);
    assert.deepEqual(btf.findFunc('__oom_reap_task_mm')?.params.map((p) => p.name), ['mm']);
  });

  test('gzip and plain input give the same types', () => {
    const plain = gunzipSync(readFileSync(REAL_BTF));
    const b2 = parseBtf(plain);
    assert.equal(b2.typeCount, btf.typeCount);
    assert.deepEqual(b2.findStruct('mmu_notifier_range')?.members, btf.findStruct('mmu_notifier_range')?.members);
  });
});

describe('BTF reader: every kind, both byte orders', () => {
  for (const le of [true, false]) {
    test(`${le ? 'little' : 'big'}-endian synthetic BTF`, () => {
      const { bytes, ids } = buildAllKinds(le);
      const btf = parseBtf(bytes);
      assert.equal(btf.littleEndian, le);
      assert.equal(btf.typeCount, ids.last);
      // Each kind was sized right: the record after all of them is where it should be.
      assert.equal(btf.type(ids.last).name, 'after_everything');
      assert.equal(btf.findStruct('after_everything')?.members[0].name, 'x');
      for (const [kind, id] of [[BtfKind.FLOAT, ids.float], [BtfKind.TYPE_TAG, ids.typeTag], [BtfKind.DECL_TAG, ids.declTag], [BtfKind.DATASEC, ids.datasec], [BtfKind.VAR, ids.var]] as const) {
        assert.equal(btf.type(id).kind, kind);
      }

      const s = btf.findStruct('mmu_notifier_range');
      assert.ok(s);
      assert.deepEqual(
        s.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize, m.byteOffset]),
        [['mm', 0, 0, 0], ['start', 64, 0, 8], ['end', 128, 0, 16], ['flags', 192, 3, 24], ['event', 224, 0, 28], ['', 256, 0, 32]],
      );
      // Members of an anonymous union are found through it, with the offset added.
      assert.equal(s.member('owner_alias')?.byteOffset, 32);
      // typedef -> const -> volatile -> int resolves to the int.
      assert.deepEqual([btf.resolve(ids.typedef).name, btf.resolve(ids.typedef).size], ['unsigned int', 4]);
      assert.equal(btf.typeName(ids.const), 'const volatile unsigned int');
      assert.equal(btf.resolve(ids.bool).isBool, true);
      assert.equal(btf.resolve(ids.int).signed, true);
      assert.deepEqual(btf.array(ids.arr), { elemTypeId: ids.uint, indexTypeId: ids.int, nelems: 16 });
      assert.equal(btf.resolve(ids.arr).size, 64);

      assert.deepEqual(btf.findEnum('mmu_notifier_event')?.values, [
        { name: 'MMU_NOTIFY_UNMAP', value: 0 }, { name: 'MMU_NOTIFY_CLEAR', value: 1 }, { name: 'MMU_NOTIFY_EXCLUSIVE', value: 7 },
      ]);
      assert.equal(btf.findEnum('signed_e')?.valueOf('MINUS_ONE'), -1);
      const e64 = btf.findEnum('big_e');
      assert.equal(e64?.valueOf('SMALL'), 5);
      assert.equal(e64?.valueOf('HUGE'), (0x80000000n << 32n) | 1n);

      const f = btf.findFunc('legacy_start');
      assert.ok(f);
      assert.equal(f.linkage, 1);
      assert.equal(f.variadic, true);
      assert.deepEqual(f.params.map((p) => [p.name, btf.typeName(p.typeId)]), [['mm', 'struct mm_struct *'], ['start', 'long unsigned int']]);
      assert.equal(btf.typeName(f.returnTypeId), 'int');
    });
  }

  test('a .BTF section inside an ELF file', () => {
    const { bytes } = buildAllKinds(true);
    const shstr = Buffer.from('\0.BTF\0.shstrtab\0');
    const dataOff = 64;
    const shstrOff = dataOff + bytes.length;
    const shoff = Math.ceil((shstrOff + shstr.length) / 8) * 8;
    const elf = Buffer.alloc(shoff + 3 * 64);
    elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    elf.writeBigUInt64LE(BigInt(shoff), 0x28);
    elf.writeUInt16LE(64, 0x3a);
    elf.writeUInt16LE(3, 0x3c);
    elf.writeUInt16LE(2, 0x3e);
    bytes.copy(elf, dataOff);
    shstr.copy(elf, shstrOff);
    const sh = (i: number, name: number, off: number, size: number): void => {
      elf.writeUInt32LE(name, shoff + i * 64);
      elf.writeBigUInt64LE(BigInt(off), shoff + i * 64 + 0x18);
      elf.writeBigUInt64LE(BigInt(size), shoff + i * 64 + 0x20);
    };
    sh(1, 1, dataOff, bytes.length);
    sh(2, 6, shstrOff, shstr.length);
    const btf = parseBtf(gzipSync(elf));
    assert.equal(btf.findStruct('after_everything')?.size, 4);
  });
});

describe('BTF reader errors', () => {
  test('bad magic', () => {
    assert.throws(() => parseBtf(Buffer.from('hello, world: not BTF at all')), (err: Error) => {
      assert.ok(err instanceof BtfError);
      assert.match(err.message, /^not a BTF file: bad magic 0x6865/);
      return true;
    });
    assert.throws(() => parseBtf(Buffer.alloc(0)), /not a BTF file/);
  });

  test('truncated, unknown kind, bad version, broken gzip', () => {
    const { bytes } = buildAllKinds(true);
    assert.throws(() => parseBtf(bytes.subarray(0, 20)), /truncated BTF header/);
    assert.throws(() => parseBtf(bytes.subarray(0, 200)), /truncated BTF/);
    const b = new BtfBuilder(false);
    b.add(BtfKind.INT, 'int', { sizeOrType: 4, extra: [32] });
    b.add(25 as BtfKind, 'weird');
    assert.throws(() => parseBtf(b.build()), /unknown BTF kind 25 for type id 2/);
    const v2 = new BtfBuilder(true);
    v2.add(BtfKind.PTR, '');
    assert.throws(() => parseBtf(v2.build({ version: 2 })), /unsupported BTF version 2/);
    const cut = new BtfBuilder(true);
    cut.add(BtfKind.STRUCT, 's', { vlen: 2, sizeOrType: 8, extra: [0, 0, 0] });
    assert.throws(() => parseBtf(cut.build()), /runs past the end of the type section/);
    const gz = gzipSync(bytes);
    assert.throws(() => parseBtf(gz.subarray(0, gz.length - 8)), /gzip data could not be decompressed/);
    assert.throws(() => readBtfFile('/nonexistent/vmlinux.btf'), /cannot read BTF file \/nonexistent\/vmlinux.btf: no such file/);
  });

  test('/dev/zero or a gzip bomb as the BTF file: refused at a bounded size, not read into memory without end', () => {
    const t0 = Date.now();
    assert.throws(() => readBtfFile('/dev/zero'), /cannot read BTF file \/dev\/zero: it is larger than 64 MiB/);
    assert.ok(Date.now() - t0 < 10_000);
    // A gzip that decompresses to more than the limit (BTF_MAX_BYTES, 1 GiB; 1 MiB here) stops there.
    assert.ok(BTF_MAX_BYTES >= 256 << 20);
    const bomb = gzipSync(Buffer.alloc(4 << 20));
    assert.throws(() => parseBtf(bomb, { maxBytes: 1 << 20 }), /gzip data could not be decompressed: .*(larger|exceed)/i);
  });

  test('asking for the wrong kind says so', () => {
    const btf: Btf = parseBtf(buildAllKinds(true).bytes);
    assert.throws(() => btf.members(1), /is INT, not a struct or union/);
    assert.throws(() => btf.type(9999), /out of range/);
  });
});
