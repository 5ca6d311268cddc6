/**
 * The benchmark's trace generator (bench/generate.ts): the size asked for, to
 * a line, and a trace check reads without a single unreadable line.
 */
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommanderError } from 'commander';
import { benchDir, benchOptions } from '../bench/bench';
import { generate, loadTemplate } from '../bench/generate';
import { analyzeTrace } from '../src/analyze';
import { FIX } from './parse-helpers';

describe('bench trace generator', () => {
  for (const mix of ['reclaim', 'baseline']) {
    it(`${mix}: stops within one line of the size asked for; every line reads`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mntrace-gen-'));
      try {
        const file = join(dir, 'trace.txt');
        const tpl = loadTemplate(join(FIX, 'real', `${mix}.trace.txt.gz`));
        const longest = tpl.parts.reduce((m, p) => Math.max(m, Buffer.byteLength(p.before + p.after) + 20), 0);
        const size = 1 << 20;
        const g = await generate(file, size, tpl);
        assert.equal(statSync(file).size, g.bytes);
        assert.ok(g.bytes >= size && g.bytes < size + longest, `${g.bytes} bytes for ${size} asked`);
        const r = await analyzeTrace(file, { threads: 1 });
        assert.equal(r.input.unreadableLines, 0);
        assert.equal(r.input.events, g.lines);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('bench arguments', () => {
  it('takes the options it knows, with their values and defaults', () => {
    const o = benchOptions(['--size', '1M', '--keep']);
    assert.equal(o.size, '1M');
    assert.equal(o.keep, true);
    assert.equal(o.mix, 'reclaim');
    assert.equal(o.runs, '3');
  });
  it('refuses an unknown option and an option without its value, naming it', () => {
    const quiet = mock.method(process.stderr, 'write', () => true);
    try {
      assert.throws(() => benchOptions(['--szie', '1M']), (e: CommanderError) => e.code === 'commander.unknownOption' && /--szie/.test(e.message));
      assert.throws(() => benchOptions(['--size']), (e: CommanderError) => e.code === 'commander.optionMissingArgument' && /--size/.test(e.message));
    } finally {
      quiet.mock.restore();
    }
  });
  it('makes a missing --dir, and fails (not hangs) on one that cannot be made', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-dir-'));
    try {
      const want = join(dir, 'a', 'b');
      assert.equal(benchDir(want), want);
      assert.ok(statSync(want).isDirectory());
      assert.throws(() => benchDir('/proc/mntrace-no-such/x'), /ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('a trace that cannot be written rejects the generator promise', async () => {
    const tpl = loadTemplate(join(FIX, 'real', 'baseline.trace.txt.gz'));
    await assert.rejects(generate('/proc/mntrace-no-such/trace.txt', 1 << 20, tpl), /ENOENT/);
  });
});
