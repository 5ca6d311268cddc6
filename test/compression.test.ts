import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { TraceEvent, TraceRecord } from '../src/model/event';
import { readTrace } from '../src/io/read-trace';
import { InputError, readLines, sniffCompression } from '../src/io/source';

// fixtures/compressed/*: lines 25911-26110 of the real baseline.trace.txt (see README.md there).
const FIX = resolve(__dirname, '../../fixtures');
const PLAIN = join(FIX, 'real/baseline.trace.lines-25911-26110.txt');
const COMPRESSED = join(FIX, 'compressed/baseline.trace.lines-25911-26110.txt');

async function events(path: string): Promise<{ format: string; compression: string; events: Record<string, unknown>[]; unreadable: number }> {
  const out: TraceEvent[] = [];
  const res = await readTrace(path, (r: TraceRecord) => { if (r.kind === 'event') out.push(r); }, { displayName: 'trace' });
  const plain = out.map((e) => ({ line: e.src.line, ts: e.ts, cpu: e.cpu, pid: e.pid, comm: e.comm, name: e.name, probe: e.probe, fields: { ...e.fields }, payload: e.payload }));
  return { format: res.format, compression: res.source.compression, events: plain, unreadable: res.info.unreadable };
}

describe('compressed input (by magic bytes, streaming)', () => {
  test('the magic bytes are recognised', () => {
    assert.equal(sniffCompression(readFileSync(COMPRESSED + '.gz')), 'gzip');
    assert.equal(sniffCompression(readFileSync(COMPRESSED + '.zst')), 'zstd');
    assert.equal(sniffCompression(readFileSync(COMPRESSED + '.xz')), 'xz');
    assert.equal(sniffCompression(readFileSync(PLAIN)), 'none');
  });

  for (const ext of ['gz', 'zst', 'xz'] as const) {
    test(`.${ext} of a real trace gives exactly the events of the plain file`, async () => {
      const plain = await events(PLAIN);
      assert.equal(plain.events.length, 200);
      assert.equal(plain.unreadable, 0);
      const packed = await events(`${COMPRESSED}.${ext}`);
      assert.equal(packed.compression, { gz: 'gzip', zst: 'zstd', xz: 'xz' }[ext]);
      assert.equal(packed.format, 'ftrace');
      assert.deepEqual(packed.events, plain.events);
    });
  }

  test('a gzip made here in-process reads the same too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-compression-'));
    try {
      const p = join(dir, 'slice.gz');
      writeFileSync(p, gzipSync(readFileSync(PLAIN)));
      assert.deepEqual((await events(p)).events, (await events(PLAIN)).events);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('concatenated zstd frames and xz streams are read to the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-compression-'));
    try {
      const plainLines = readFileSync(PLAIN, 'utf8').split('\n').length - 1;
      for (const ext of ['zst', 'xz']) {
        const p = join(dir, `twice.${ext}`);
        const one = readFileSync(`${COMPRESSED}.${ext}`);
        writeFileSync(p, Buffer.concat([one, one]));
        let n = 0;
        await readLines(p, () => { n++; });
        assert.equal(n, 2 * plainLines, ext);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cut-off compressed files are an InputError naming the problem, not a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-compression-'));
    try {
      for (const ext of ['gz', 'zst', 'xz']) {
        const whole = readFileSync(`${COMPRESSED}.${ext}`);
        const p = join(dir, `cut.${ext}`);
        writeFileSync(p, whole.subarray(0, Math.floor(whole.length / 2)));
        await assert.rejects(readTrace(p, () => {}), (e: unknown) => e instanceof InputError && /corrupt or cut off/.test((e as Error).message), ext);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
