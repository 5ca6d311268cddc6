/**
 * Input a hostile (or unlucky) user gives: lines of any length, files that
 * are not regular files, compressed data that is corrupt. Every case ends as
 * a clear result (a report, or exit 2 naming file and line) in bounded time
 * and memory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readTrace } from '../src/io/read-trace';
import { DamagedInputError, LineSplitter } from '../src/io/source';
import { MAX_LINE_BYTES } from '../src/model/limits';
import type { TraceRecord, UnreadableRecord } from '../src/model/event';
import { FIX } from './parse-helpers';
import { rng } from '../bench/fuzz';

const BIN = join(FIX, '..', 'bin', 'mntrace.js');
const PLAIN = join(FIX, 'real', 'baseline.trace.lines-25911-26110.txt');
const GZ = join(FIX, 'compressed', 'baseline.trace.lines-25911-26110.txt.gz');

/** Run `fn` with a fresh temporary directory, removed afterwards (when `fn`'s promise settles, for an async one). */
function inTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'mntrace-hostile-'));
  const done = () => rmSync(dir, { recursive: true, force: true });
  let result: T;
  try {
    result = fn(dir);
  } catch (e) {
    done();
    throw e;
  }
  if (result instanceof Promise) return result.finally(done) as T;
  done();
  return result;
}

/** Run a shell command line with `$MNTRACE` set to the CLI (for FIFOs and process substitution). */
function sh(script: string, timeout = 60_000) {
  const res = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1', MNTRACE: `${process.execPath} ${BIN}` } });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr, signal: res.signal };
}

async function read(path: string, parallel = false) {
  const records: TraceRecord[] = [];
  const res = await readTrace(path, (r) => records.push(r), parallel ? { parallel: { spec: { semantics: {}, roles: [] }, minBytes: 0, chunkBytes: 1 << 16 }, filter: { wants: () => true, skipped: () => {} } } : {});
  return { res, records, unreadable: records.filter((r): r is UnreadableRecord => r.kind === 'unreadable') };
}

describe('line length: a line longer than MAX_LINE_BYTES is cut and reported, never accumulated', () => {
  const lines = readFileSync(PLAIN, 'utf8').split('\n').slice(0, -1);
  const long = 'x'.repeat(10 << 20);
  const text = [...lines.slice(0, 50), long, ...lines.slice(50)].join('\n') + '\n';

  for (const [what, write, parallel] of [
    ['plain file', (p: string) => writeFileSync(p, text), false],
    ['gzip', (p: string) => writeFileSync(p, gzipSync(text)), false],
    ['plain file on the scan worker', (p: string) => writeFileSync(p, text), true],
    ['gzip on the scan worker', (p: string) => writeFileSync(p, gzipSync(text)), true],
  ] as const) {
    test(`${what}: a 10 MB line is one unreadable line (too long), every other line is read`, async () => {
      await inTmp(async (dir) => {
        const p = join(dir, 'trace');
        write(p);
        const { res, unreadable } = await read(p, parallel);
        assert.equal(res.format, 'ftrace');
        assert.equal(res.info.lines, 201);
        assert.equal(res.info.events, 200);
        assert.equal(unreadable.length, 1);
        assert.equal(unreadable[0].src.line, 51);
        assert.match(unreadable[0].reason, /^line too long \(10485760 bytes; a trace line has at most 65536 bytes\)/);
        assert.ok(unreadable[0].text.length <= 301);
      });
    });
  }

  test('a too-long line among the first lines does not stop format detection; a final one without newline too', async () => {
    await inTmp(async (dir) => {
      const p = join(dir, 'trace');
      writeFileSync(p, [long, ...lines, long].join('\n'));
      const { res, unreadable } = await read(p);
      assert.equal(res.format, 'ftrace');
      assert.deepEqual(unreadable.map((u) => u.src.line), [1, 202]);
    });
  });

  test('the splitter keeps at most MAX_LINE_BYTES of a line however it is cut into chunks, in linear time', () => {
    const got: Array<[string, number, boolean, number | undefined]> = [];
    const s = new LineSplitter((text, n, term, tooLong) => got.push([text.slice(0, 3), n, term, tooLong]));
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const t0 = process.hrtime.bigint();
    s.push(Buffer.from('first\n'));
    for (let i = 0; i < 48; i++) s.push(chunk);
    s.push(Buffer.from('\nlast\n'));
    s.push(Buffer.from('a'.repeat(MAX_LINE_BYTES)));
    s.push(Buffer.from('\n'));
    s.end();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.deepEqual(got, [['fir', 1, true, undefined], ['aaa', 2, true, 48 << 20], ['las', 3, true, undefined], ['aaa', 4, true, undefined]]);
    assert.ok(ms < 2000, `${ms} ms`);
    assert.ok(((s as unknown as { carry?: Buffer }).carry?.length ?? 0) <= MAX_LINE_BYTES);
  });

  test('a zero-filled gzip (no newline at all) ends as exit 2 naming file and line, in linear time and bounded memory', () => {
    inTmp((dir) => {
      const p = join(dir, 'zeros.gz');
      writeFileSync(p, Buffer.concat([gzipSync(readFileSync(PLAIN)), gzipSync(Buffer.alloc(96 << 20))]));
      const t0 = Date.now();
      const res = sh(`$MNTRACE check ${p}`);
      assert.equal(res.code, 2, res.stderr);
      // The input error is said once, in the text report on stdout (check prints it on stderr only beside a report for tools).
      assert.match(res.stdout, /zeros\.gz:201: the line runs on past 64 MiB without a newline: this is not trace text/);
      // The lines before it were read and analysed.
      assert.match(res.stdout, /20 paired/);
      assert.ok(Date.now() - t0 < 30_000);
    });
  });
});

describe('special files are read as streams, like -', () => {
  test('a FIFO as the path', () => {
    inTmp((dir) => {
      const res = sh(`cd ${dir} && mkfifo pipe && (zcat ${GZ} > pipe &) && $MNTRACE check pipe`);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /20 paired/);
    });
  });

  test('check --follow on a FIFO (the documented trace_pipe use)', () => {
    inTmp((dir) => {
      const res = sh(`cd ${dir} && mkfifo pipe && (zcat ${GZ} > pipe &) && $MNTRACE check --follow pipe`);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /20 paired/);
    });
  });

  test('process substitution and /dev/stdin, compressed or not', () => {
    for (const cmd of [`$MNTRACE check <(zcat ${GZ})`, `$MNTRACE check /dev/stdin < ${GZ}`, `zcat ${GZ} | $MNTRACE events /dev/stdin`]) {
      const res = sh(cmd);
      assert.equal(res.code, 0, `${cmd}: ${res.stderr}`);
      assert.doesNotMatch(res.stderr, /internal error|ESPIPE/);
    }
  });

  test('/dev/zero ends (exit 2, file and line named) instead of hanging', () => {
    const res = sh(`$MNTRACE check /dev/zero`, 30_000);
    assert.equal(res.signal, null, 'killed by the timeout: it hung');
    assert.equal(res.code, 2);
    assert.match(res.stdout, /\/dev\/zero:1: the line runs on past 64 MiB without a newline/);
  });

  test('DamagedInputError names what the damage is', () => {
    const e = DamagedInputError.of({ path: 'f.zst', compression: 'zstd', bytesRead: 1, bytesText: 1, lines: 7 }, { message: 'zstd: bad checksum', code: 'Z_DATA_ERROR' });
    assert.match(e!.message, /^f\.zst: compressed data is corrupt or cut off after 7 lines \(zstd: bad checksum\)/);
    assert.equal(DamagedInputError.of({ path: 'f', compression: 'none', bytesRead: 1, bytesText: 1, lines: 0 }, { message: 'EIO' }), undefined);
  });
});

describe('a reader that closes the pipe early ends the run quietly', () => {
  /** Run the CLI and close its stdout after the first chunk, as `| head -1` does. */
  function closedEarly(args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', (code) => resolve({ code, stderr }));
    });
  }

  test('mntrace events ... | head (the README example): no stack trace, exit 0', async () => {
    const res = await closedEarly(['events', join(FIX, 'real', 'baseline.trace.txt.gz')]);
    assert.doesNotMatch(res.stderr, /EPIPE|at \S+ \(|internal error/);
    assert.equal(res.code, 0);
  });

  test('a report over 64 KiB into head -1: no stack trace', async () => {
    const res = await closedEarly(['check', '--format', 'chrome-trace', join(FIX, 'real', 'baseline.trace.txt.gz')]);
    assert.doesNotMatch(res.stderr, /EPIPE|at \S+ \(|internal error/);
    assert.ok(res.code === 0 || res.code === 1, String(res.code));
  });
});

describe('terminal injection: control characters from the trace are escaped in all text output', () => {
  // An OSC (window title) ended by BEL, a CSI colour, a C1 CSI, a carriage return.
  const EVIL = '\u001b]0;owned\u0007k\u001b[31mvm\u009b2J\r';
  const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
  function evilCapture(dir: string): string {
    const text = readFileSync(join(FIX, 'cases', 'missing-end', 'trace.txt'), 'utf8').replaceAll('kvmnotif-147', `${EVIL}-147`) + `not a trace line ${EVIL}\n`;
    const p = join(dir, `trace${EVIL}.txt`);
    writeFileSync(p, text);
    return p;
  }

  for (const args of [['check'], ['check', '--no-color'], ['check', '--show-unreadable'], ['check', '--follow'], ['events'], ['events', '--show-unreadable']]) {
    test(`mntrace ${args.join(' ')}: no raw control character on stdout or stderr`, () => {
      inTmp((dir) => {
        const p = evilCapture(dir);
        const res = spawnSync(process.execPath, [BIN, ...args, p], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
        assert.ok(res.status === 0 || res.status === 1, res.stderr);
        // Colour off (FORCE_COLOR=0 and not a TTY): no escape of mntrace's own either, so any control character came from the trace.
        const out = args[0] === 'events' ? res.stderr : res.stdout + res.stderr;
        assert.doesNotMatch(out.replaceAll('\n', '').replaceAll('\t', ''), CONTROL);
        assert.match(out, /\\x1b\]0;owned\\x07k\\x1b\[31mvm\\x9b2J\\x0d/);
        // JSON lines escape them by being JSON.
        if (args[0] === 'events') assert.match(res.stdout, /"comm":"\\u001b\]0;owned\\u0007k\\u001b\[31mvm\u009b2J\\r"/);
      });
    });
  }

  test('an input error names the file with its control characters escaped', () => {
    const res = spawnSync(process.execPath, [BIN, 'check', `/nonexistent/${EVIL}`], { encoding: 'utf8' });
    assert.equal(res.status, 2);
    assert.doesNotMatch(res.stderr.replaceAll('\n', ''), CONTROL);
  });
});

describe('zstd is checked as zstd -t checks it', () => {
  const ZST = join(FIX, 'compressed', 'baseline.trace.lines-25911-26110.txt.zst');
  const whole = readFileSync(ZST);

  test('150 corrupt copies (bit flips, cuts) of a real .zst: every one is an input error with the lines before the damage, none read as a clean trace', async () => {
    const rnd = rng(22); // the fuzzer's fixed-seed generator: the same corrupt files on every run
    await inTmp(async (dir) => {
      const t0 = Date.now();
      for (let i = 0; i < 150; i++) {
        let bad: Buffer;
        if (i % 3 === 2) bad = whole.subarray(0, 4 + Math.floor(rnd() * (whole.length - 5)));
        else {
          bad = Buffer.from(whole);
          for (let k = 0; k <= i % 3; k++) {
            const at = 4 + Math.floor(rnd() * (whole.length - 4));
            bad[at] ^= 1 << Math.floor(rnd() * 8);
          }
        }
        const p = join(dir, `bad${i}.zst`);
        writeFileSync(p, bad);
        await assert.rejects(read(p), (e: unknown) => {
          assert.ok(e instanceof DamagedInputError, `copy ${i}: ${(e as Error).message}`);
          assert.match(e.message, /bad\d+\.zst: compressed data is corrupt or cut off after \d+ lines \(zstd: /);
          // The checksum ends its frame: a block decoded wrong before it has been read as lines, and the run still fails (exit 2).
          assert.equal(e.partial === undefined || e.partial.source.lines === e.source.lines, true);
          return true;
        }, `copy ${i} was read as a whole trace`);
      }
      assert.ok(Date.now() - t0 < 30_000);
    });
  });

  test('damage in a later frame keeps every line of the frames before it; trailing garbage is damage too', async () => {
    await inTmp(async (dir) => {
      const second = Buffer.from(whole);
      second[Math.floor(second.length / 2)] ^= 0x10;
      for (const [name, bytes] of [['two.zst', Buffer.concat([whole, second])], ['garbage.zst', Buffer.concat([whole, Buffer.from('not zstd at all')])]] as const) {
        const p = join(dir, name);
        writeFileSync(p, bytes);
        await assert.rejects(read(p), (e: unknown) => {
          assert.ok(e instanceof DamagedInputError, (e as Error).message);
          assert.ok(e.source.lines >= 200, `${name}: ${e.source.lines} lines before the damage`);
          assert.equal(e.partial?.info.events, e.source.lines);
          return true;
        });
      }
    });
  });
});

describe('gzip with trailing garbage keeps every line before it', () => {
  // The real baseline capture: 29,306 lines, whose last megabyte Node's own gunzip dropped when garbage followed.
  const BASELINE = join(FIX, 'real', 'baseline.trace.txt.gz');
  const whole = readFileSync(BASELINE);

  test('text or random bytes after the last member: exit 2 naming the garbage, after all 29,306 lines were analysed', () => {
    inTmp((dir) => {
      for (const [name, tail] of [['text.gz', Buffer.from('garbage text here\n'.repeat(50))], ['random.gz', Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 97 + 13) & 0xff))]] as const) {
        const p = join(dir, name);
        writeFileSync(p, Buffer.concat([whole, tail]));
        const res = sh(`$MNTRACE check ${p}`);
        assert.equal(res.code, 2, res.stdout + res.stderr);
        assert.match(res.stdout, new RegExp(`${name}: compressed data is corrupt or cut off after 29306 lines \\(gzip: byte ${whole.length} and on are not another gzip member`));
        assert.match(res.stdout, /ftrace \(gzip\), 29306 lines, 29294 events/);
      }
    });
  });

  test('zero padding after the last member is not damage (gzip -t accepts it)', () => {
    inTmp((dir) => {
      const p = join(dir, 'padded.gz');
      writeFileSync(p, Buffer.concat([whole, Buffer.alloc(4096)]));
      const res = sh(`$MNTRACE check ${p}`);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /29306 lines/);
    });
  });
});

describe('a long run of lines without a CPU column costs linear time', () => {
  // The fast lane looks for the ` [NNN] ` CPU column with Buffer.indexOf, which cannot stop at the line's end: on
  // lines without `[` it ran on to the next one, for every line (22 s a million lines on one thread, 14 s with the scan worker).
  test('a real trace followed by 2,000,000 garbage lines: check reads them in seconds (one thread and the scan worker), each one unreadable', () => {
    inTmp((dir) => {
      const p = join(dir, 'garbage-after.txt');
      const garbage = Array.from({ length: 2_000_000 }, (_, i) => `garbage line ${i} with some words x=${i}`).join('\n');
      writeFileSync(p, readFileSync(PLAIN, 'utf8') + garbage + '\n');
      for (const threads of ['--threads 1', '']) {
        const t0 = Date.now();
        const res = sh(`$MNTRACE check ${threads} ${p}`, 60_000);
        const ms = Date.now() - t0;
        assert.equal(res.signal, null, `${threads}: killed after ${ms} ms`);
        assert.match(res.stdout, /2000200 lines, 200 events, 2000000 unreadable/, threads);
        assert.ok(ms < 15_000, `${threads}: ${ms} ms (about 1 s a million lines; before the fix, 22 s a million on one thread)`);
      }
    });
  });
});
