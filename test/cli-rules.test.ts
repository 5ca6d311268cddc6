/** `mntrace rules` and `mntrace rules <id>` (src/cli/rules.ts), on a program of their own. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerRulesCommand } from '../src/cli/rules';
import { EXIT, UsageError } from '../src/cli/common';
import { rules } from '../rules';

async function run(args: string[]): Promise<{ out: string; err?: unknown }> {
  const program = new Command().exitOverride();
  registerRulesCommand(program);
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => {
    chunks.push(String(s));
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'mntrace', 'rules', ...args]);
    return { out: chunks.join('') };
  } catch (err) {
    return { out: chunks.join(''), err };
  } finally {
    process.stdout.write = write;
  }
}

describe('mntrace rules', () => {
  it('lists every rule with its default severity and description', async () => {
    const { out, err } = await run([]);
    assert.equal(err, undefined);
    for (const r of rules) {
      const line = out.split('\n').find((l) => l.startsWith(r.meta.id + ' '));
      assert.ok(line, `no line for ${r.meta.id}`);
      assert.match(line, new RegExp(`\\s${r.meta.defaultSeverity}\\s`));
      assert.ok(line.includes(r.meta.docs.description), line);
    }
  });

  it('prints one rule\'s documentation with its options and defaults', async () => {
    const { out, err } = await run(['slow-invalidation']);
    assert.equal(err, undefined);
    assert.match(out, /^slow-invalidation \(default severity: warning\)/);
    for (const heading of ['Rationale:', 'Commits:', 'Kernels:', 'Capture:', 'Options']) assert.ok(out.includes(heading), heading);
    assert.match(out, /thresholdMs \(number, default 10\)/);
    assert.match(out, /includeNonBlocking \(boolean, default false\)/);
  });

  it('a rule whose findings rest on an absent event says missing lines make them inconclusive; one on direct evidence does not', async () => {
    assert.match((await run(['unpaired-start'])).out, /Missing lines:\n\s+Its findings rest on an event being absent from the trace/);
    assert.doesNotMatch((await run(['blocking-start-in-atomic'])).out, /Missing lines:/);
  });

  it('a rule without options says so; array options show their defaults', async () => {
    assert.match((await run(['unpaired-start'])).out, /Options: none/);
    assert.match((await run(['secondary-tlb-without-mm'])).out, /currentMmFrames \(string\[\], default \["arch_tlbbatch_flush"\]\)/);
  });

  it('--json for the list and for one rule', async () => {
    const list = JSON.parse((await run(['--json'])).out);
    assert.deepEqual(list.map((r: { id: string }) => r.id), rules.map((r) => r.meta.id));
    const doc = JSON.parse((await run(['device-fault-storm', '--json'])).out);
    assert.equal(doc.id, 'device-fault-storm');
    assert.deepEqual(doc.options.find((o: { name: string }) => o.name === 'threshold'), { name: 'threshold', type: 'integer', default: 100, description: doc.options[0].description });
    assert.ok(Array.isArray(doc.commits) && doc.kernels.length > 0);
  });

  it('an unknown id is a usage error (exit 2) that lists the ids', async () => {
    const { out, err } = await run(['no-such-rule']);
    assert.equal(out, '');
    assert.ok(err instanceof UsageError, String(err));
    assert.equal(EXIT.usage, 2);
    assert.match(err.message, /unknown rule 'no-such-rule'/);
    for (const r of rules) assert.ok(err.message.includes(`  ${r.meta.id}`), r.meta.id);
  });
});
