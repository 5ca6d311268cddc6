/**
 * The print formats of a trace.dat's event descriptions, evaluated as
 * libtraceevent prints them: the real 6.1 formats of the baseline capture
 * (kvm_unmap_hva_range's %#016lx, tlb_flush's __print_symbolic, kmalloc's
 * __print_flags over gfp masks) on records built field by field, and
 * trace_printk's packed arguments (vbin_printf's layout).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDat } from '../src/io/tracedat/container';
import { formatPrintf, parseFormat, printEvent, unpackBinaryArgs, type EventFormat } from '../src/io/tracedat/formats';
import { FIX } from './parse-helpers';

const noSymbols = { lookup: () => undefined };
const symbols = { lookup: (a: bigint) => (a >= 0xffffffff81000000n && a < 0xffffffff81001000n ? { name: 'alloc_bprm', offset: a - 0xffffffff81000000n } : undefined) };

function realFormat(system: string, name: string): EventFormat {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-fmt-'));
  const p = join(dir, 'v6.dat');
  writeFileSync(p, gunzipSync(readFileSync(join(FIX, 'tracedat/baseline.trace-cmd.v6.dat.gz'))));
  const { dat, bytes } = openDat(p);
  bytes.close();
  const f = dat.formats.find((x) => x.system === system && new RegExp(`^name: ${name}$`, 'm').test(x.text));
  assert.ok(f, `${system}:${name}`);
  return parseFormat(system, f.text)!;
}

/** A record of `ev` with these field values (numbers little-endian at their offsets). */
function record(ev: EventFormat, values: Record<string, bigint>): Buffer {
  const size = Math.max(...ev.fields.map((f) => f.offset + f.size));
  const b = Buffer.alloc(size);
  for (const [name, v] of Object.entries(values)) {
    const f = ev.byName.get(name)!;
    if (f.size === 8) b.writeBigUInt64LE(BigInt.asUintN(64, v), f.offset);
    else if (f.size === 4) b.writeUInt32LE(Number(BigInt.asUintN(32, v)), f.offset);
    else b[f.offset] = Number(v);
  }
  return b;
}

describe('trace.dat print formats', () => {
  it('kvm_unmap_hva_range: %#016lx pads to 16 with the 0x inside', () => {
    const ev = realFormat('kvm', 'kvm_unmap_hva_range');
    const data = record(ev, { start: 0x7fc2ddc00000n, end: 0x7fc2dde00000n });
    assert.equal(printEvent(ev, { data, le: true, longSize: 8 }, noSymbols), 'mmu notifier unmap range: 0x007fc2ddc00000 -- 0x007fc2dde00000');
  });

  it('kmalloc: %pS through the symbols, gfp flags named by __print_flags (with the bits no name covers), a signed node, ?: for accounted', () => {
    const ev = realFormat('kmem', 'kmalloc');
    const data = record(ev, { call_site: 0xffffffff81000032n, ptr: 0xff201f068219ec00n, bytes_req: 416n, bytes_alloc: 512n, gfp_flags: 0xcc0n | 0x100n | 0x400000n | 0x1000000n, node: -1n });
    assert.equal(
      printEvent(ev, { data, le: true, longSize: 8 }, symbols),
      'call_site=alloc_bprm+0x32 ptr=0xff201f068219ec00 bytes_req=416 bytes_alloc=512 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO|0x1000000 node=-1 accounted=true',
    );
    const none = record(ev, { call_site: 0x1234n, gfp_flags: 0n, node: 0n });
    assert.match(printEvent(ev, { data: none, le: true, longSize: 8 }, symbols), /^call_site=0x1234 ptr=\(nil\) .* gfp_flags=none node=0 accounted=false$/);
  });

  it('tlb_flush: __print_symbolic, and %ld of an unsigned long -1', () => {
    const ev = realFormat('tlb', 'tlb_flush');
    const data = record(ev, { reason: 1n, pages: -1n });
    assert.equal(printEvent(ev, { data, le: true, longSize: 8 }, noSymbols), 'pages:-1 reason:remote shootdown (1)');
    assert.equal(printEvent(ev, { data: record(ev, { reason: 9n, pages: 3n }), le: true, longSize: 8 }, noSymbols), 'pages:3 reason:0x9 (9)');
  });

  it('trace_printk arguments packed as vbin_printf packs them: each number at its alignment, strings inline', () => {
    const fmt = 'mn start %lx flags=%d comm=%s ret=%hhd %lld';
    const buf = Buffer.alloc(40);
    buf.writeBigUInt64LE(0xff4d4553c087bb10n, 0); // %lx: 8 bytes at 0
    buf.writeInt32LE(1, 8); // %d: 4 at 8
    buf.write('kvmnotif\0', 12); // %s: 9 bytes at 12..20
    buf.writeInt8(-2, 21); // %hhd: 1 byte at 21
    buf.writeBigInt64LE(-5n, 24); // %lld: aligned to 8
    const values = unpackBinaryArgs(fmt, buf, true, 8);
    assert.equal(formatPrintf(fmt, values, 8, noSymbols), 'mn start ff4d4553c087bb10 flags=1 comm=kvmnotif ret=-2 -5');
  });
});
