import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { gunzipChecked } from '../src/io/gunzip';
import { FIX } from './parse-helpers';

const PLAIN = readFileSync(join(FIX, 'real', 'baseline.trace.lines-25911-26110.txt'));

/** Decode `bytes` given in chunks cut at `cuts`; the output and the damage said after it. */
async function gunzip(bytes: Buffer, cuts: number[] = []): Promise<{ out: Buffer; failure?: NodeJS.ErrnoException }> {
  const chunks: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(at, c));
    at = c;
  }
  const stream = gunzipChecked(Readable.from(chunks.filter((c) => c.length > 0)));
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return { out: Buffer.concat(parts), failure: stream.failure };
}

describe('gzip members, walked and checked (src/io/gunzip.ts)', () => {
  const a = PLAIN.subarray(0, 9000);
  const b = PLAIN.subarray(9000);
  const two = Buffer.concat([gzipSync(a), gzipSync(b)]);

  test('concatenated members decode to their concatenation, wherever the input chunks are cut', async () => {
    // Every cut near the member boundary and the trailers: a chunk that ends exactly where the deflate data ends included.
    const first = gzipSync(a).length;
    for (let cut = first - 20; cut <= first + 12; cut++) {
      const r = await gunzip(two, [cut]);
      assert.equal(r.failure, undefined, `cut at ${cut}`);
      assert.ok(r.out.equals(PLAIN), `cut at ${cut}`);
    }
    // Chunks of 7 bytes: header fields split across chunks too.
    const small = Array.from({ length: Math.floor(two.length / 7) }, (_, i) => (i + 1) * 7);
    const r = await gunzip(two, small);
    assert.equal(r.failure, undefined);
    assert.ok(r.out.equals(PLAIN));
  });

  test('header fields (name, comment, extra, header CRC) are skipped', async () => {
    const body = gzipSync(PLAIN);
    // FLG = FHCRC|FEXTRA|FNAME|FCOMMENT, then XLEN + 3 bytes, a name, a comment, a header CRC16 (not checked by gzip -t either).
    const header = Buffer.concat([body.subarray(0, 3), Buffer.of(2 | 4 | 8 | 16), body.subarray(4, 10), Buffer.of(3, 0, 1, 2, 3), Buffer.from('trace.txt\0a comment\0'), Buffer.of(0, 0)]);
    const r = await gunzip(Buffer.concat([header, body.subarray(10)]), [11, 12, 16, 20]);
    assert.equal(r.failure, undefined);
    assert.ok(r.out.equals(PLAIN));
  });

  test('trailing garbage: every byte of the members comes out, then the damage is said', async () => {
    for (const garbage of [Buffer.from('not gzip at all\n'.repeat(64)), Buffer.of(0, 0, 0, 0x41)]) {
      const r = await gunzip(Buffer.concat([two, garbage]));
      assert.ok(r.out.equals(PLAIN), 'all the data before the garbage');
      assert.equal(r.failure?.code, 'Z_DATA_ERROR');
      assert.match(r.failure?.message ?? '', /trailing garbage after the last member/);
    }
  });

  test('zero padding after the last member is skipped, as gzip skips it', async () => {
    const r = await gunzip(Buffer.concat([two, Buffer.alloc(100_000)]), [two.length + 3]);
    assert.equal(r.failure, undefined);
    assert.ok(r.out.equals(PLAIN));
  });

  test('a wrong CRC-32 or length in a trailer is damage', async () => {
    for (const at of [-8, -1]) {
      const bad = Buffer.from(gzipSync(PLAIN));
      bad[bad.length + at] ^= 1;
      const r = await gunzip(bad);
      assert.equal(r.failure?.code, 'Z_DATA_ERROR', `byte ${at}`);
      assert.match(r.failure?.message ?? '', at === -8 ? /CRC-32/ : /length/);
    }
  });

  test('cut-off input is Z_BUF_ERROR, in the header, the data or the trailer', async () => {
    const one = gzipSync(PLAIN);
    for (const len of [5, 500, one.length - 8, one.length - 3]) {
      const r = await gunzip(one.subarray(0, len));
      assert.equal(r.failure?.code, 'Z_BUF_ERROR', `cut at ${len}`);
    }
  });

  test('a second member with a bad header or corrupt data is damage after the first member whole', async () => {
    const first = gzipSync(a);
    for (const next of [Buffer.of(0x1f, 0x8b, 9, 0, 0, 0, 0, 0, 0, 3, 1, 2), Buffer.concat([Buffer.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3), Buffer.alloc(64, 0xff)])]) {
      const r = await gunzip(Buffer.concat([first, next]));
      assert.ok(r.out.equals(a));
      assert.equal(r.failure?.code, 'Z_DATA_ERROR');
    }
  });
});
