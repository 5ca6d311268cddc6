/**
 * The rule API, as ESLint's: a rule reports `{ messageId, data }` of its
 * meta.messages, its options are typed from its schema and defaults, and the
 * finding carries the messageId. The type checks below are compile errors
 * when they fail (`npm test` compiles first; an unused @ts-expect-error is an
 * error too).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../src/engine/engine';
import { defineRule, optionsSchema, type RuleContext, type RuleHandlers } from '../src/engine/types';
import { Semantics } from '../src/semantics';
import { rules } from '../rules';
import { FtraceParser } from '../parsers/ftrace';
import { parseWith } from './parse-helpers';
import { baseline as b } from './real-lines';

const probe = defineRule({
  meta: {
    id: 'test-probe',
    defaultSeverity: 'warning',
    docs: { description: 'a rule for the test', rationale: 'none', commits: [], kernels: 'all' },
    messages: { seen: '{{comm}}-{{pid}} started a range with flags {{flags}}', other: 'unused' },
    evidenceRoles: { start: 'the start' },
    schema: optionsSchema({
      count: { type: 'integer' },
      name: { type: 'string' },
      names: { type: 'array', items: { type: 'string' } },
      mode: { enum: ['a', 'b'] },
    }),
    defaultOptions: { count: 1, names: [] },
  },
  create(context): RuleHandlers {
    const count: number = context.options.count;
    const names: readonly string[] = context.options.names;
    const name: string | undefined = context.options.name;
    const mode: 'a' | 'b' | undefined = context.options.mode;
    // @ts-expect-error: an option without a default may be absent
    const sure: string = context.options.name;
    // @ts-expect-error: a number is not a string
    const wrong: string = context.options.count;
    void [count, names, name, mode, sure, wrong];
    return {
      rangeStart(range) {
        // @ts-expect-error: a message the rule does not have
        if (range.depth > 99) context.report({ messageId: 'missing', confidence: 'certain', event: range.start.ev, evidence: [] });
        // @ts-expect-error: an evidence role the rule does not have
        if (range.depth > 99) context.report({ messageId: 'seen', confidence: 'certain', event: range.start.ev, evidence: [{ ev: range.start.ev, role: 'the start' }] });
        context.report({ messageId: 'seen', data: { comm: range.comm, pid: range.pid, flags: range.start.args.flags }, confidence: 'certain', event: range.start.ev, evidence: [{ ev: range.start.ev, role: 'start' }] });
      },
    };
  },
});

function run(create: (ctx: RuleContext) => RuleHandlers, messages: Record<string, string>, evidenceRoles: Record<string, string> = probe.meta.evidenceRoles) {
  const engine = new Engine({ semantics: new Semantics(), likelyAfterNs: 1e9 });
  engine.addRule('test-probe', 'warning', { count: 1, names: [] }, create, { messages, evidenceRoles });
  for (const r of parseWith((o) => new FtraceParser(o), [b.start, b.ret, b.end].join('\n') + '\n', 'trace.txt').records) engine.push(r);
  engine.finish();
  return engine.findings;
}

describe('rule API', () => {
  it('a report of { messageId, data } becomes the finding\'s message from meta.messages, and the finding names the messageId', () => {
    const [f] = run((ctx) => probe.create(ctx), probe.meta.messages);
    assert.equal(f?.messageId, 'seen');
    assert.equal(f?.message, 'kvmnotif-147 started a range with flags 1');
    assert.equal(f?.evidence[0].role, 'start');
  });

  it('evidence roles are ids of meta.evidenceRoles: an undeclared one is a programming error; the fingerprint is made from the id, so the words may change', () => {
    assert.throws(() => run((ctx) => probe.create(ctx), probe.meta.messages, { begin: 'the start' }), /rule test-probe reported evidence role 'start', which is not in its meta.evidenceRoles/);
    const [a] = run((ctx) => probe.create(ctx), probe.meta.messages, { start: 'the start' });
    const [b] = run((ctx) => probe.create(ctx), probe.meta.messages, { start: 'where the range began (reworded)' });
    assert.equal(a.fingerprint, b.fingerprint);
  });

  it('a messageId the rule does not declare is a programming error, not a silent message', () => {
    assert.throws(() => run((ctx) => ({ rangeStart: (r) => ctx.report({ messageId: 'nope', confidence: 'certain', event: r.start.ev, evidence: [] }) }), probe.meta.messages), /rule test-probe reported messageId 'nope', which is not in its meta.messages/);
  });

  it('every shipped rule declares its messages and evidence roles by id', () => {
    for (const r of rules) {
      assert.ok(Object.keys(r.meta.messages).length > 0, r.meta.id);
      for (const [id, text] of Object.entries(r.meta.messages)) {
        assert.match(id, /^[a-z][A-Za-z]+$/, `${r.meta.id}: ${id}`);
        assert.ok(text.length > 0, `${r.meta.id}: ${id}`);
      }
      for (const [id, text] of Object.entries(r.meta.evidenceRoles)) {
        assert.match(id, /^[a-z]+(-[a-z]+)*$/, `${r.meta.id}: evidence role ${id}`);
        assert.ok(text.length > 0, `${r.meta.id}: evidence role ${id}`);
      }
    }
  });
});
