/**
 * kprobe payloads are read through learnt layouts (src/semantics PayloadLayout):
 * the first hit of an event teaches which token holds which field, later hits
 * are only checked to have the same keys. Whatever the layout cache holds, a
 * payload must read the same as it would on its own. The ftrace scanner reads
 * the tokens of plain payloads from the bytes (TraceEvent.tokens, in the byte
 * lane): the same payloads must read the same through it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FtraceParser } from '../parsers/ftrace';
import { Semantics } from '../src/semantics';
import type { TraceEvent } from '../src/model/event';
import { parseWith } from './parse-helpers';

const HEAD = '        kvmnotif-147     [001] .....     6.667004: mn_inv_start: (__mmu_notifier_invalidate_range_start+0x0/0x190) ';
/** A real payload (fixtures/real/baseline.trace.lines-25911-26110.txt line 9). */
const REAL = 'range=0xff4d4553c041bb88 mm=0xff201f0681057180 start=0x7fc83c800000 end=0x7fc83ca00000 flags=1 event=1';

/** The events of these payloads: read as text, or from bytes by the scanner reading the tokens of plain payloads (as a scan worker does). */
function eventsOf(payloads: string[], lane: 'text' | 'bytes'): TraceEvent[] {
  const lines = payloads.map((p) => HEAD + p);
  if (lane === 'text') return parseWith((o) => new FtraceParser(o), lines.join('\n') + '\n', 'layout.txt').events;
  const events: TraceEvent[] = [];
  const p = new FtraceParser({ file: 'layout.txt', sink: (r) => { if (r.kind === 'event') events.push(r); }, filter: { wants: () => true, skipped: () => {} } });
  p.scanTokens = true;
  lines.forEach((l, i) => {
    const b = Buffer.from(l);
    p.pushBytes(b, 0, b.length, i + 1);
  });
  p.end();
  return events;
}

function argsOf(payloads: string[], lane: 'text' | 'bytes' = 'text') {
  const events = eventsOf(payloads, lane);
  const sem = new Semantics();
  return events.map((ev) => {
    const op = sem.resolve(ev);
    assert.ok(op, `resolved: ${ev.payload}`);
    const { range, mm, start, end, flags, event } = op.args;
    return { range, mm, start, end, flags, event, blockable: op.blockable };
  });
}

const expected = {
  range: '0xff4d4553c041bb88', mm: '0xff201f0681057180', start: '0x7fc83c800000', end: '0x7fc83ca00000', flags: 1, event: 1, blockable: true,
};

test('every payload reads the same after the layout is learnt as on its own', () => {
  const variants = [
    REAL,
    // Same keys, pointers printed otherwise: normalised, not taken as printed.
    'range=0xFF4D4553C041BB88 mm=0xff201f0681057180 start=0x00007fc83c800000 end=0x7fc83ca00000 flags=1 event=1',
    'range=18396436278888479624 mm=0xff201f0681057180 start=0x7fc83c800000 end=0x7fc83ca00000 flags=0x1 event=1',
    // Other key order and an extra token: another layout.
    'mm=0xff201f0681057180 range=0xff4d4553c041bb88 start=0x7fc83c800000 end=0x7fc83ca00000 event=1 flags=1 extra=x',
    // A trailing space or a doubled one is not the learnt layout.
    REAL + ' ',
    REAL.replace(' mm=', '  mm='),
    // A key with '=' in its value still reads up to the next space.
    REAL + ' note=a=b',
    REAL,
  ];
  for (const lane of ['text', 'bytes'] as const) {
    for (const order of [variants, [...variants].reverse()]) {
      const got = argsOf(order, lane);
      for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], expected, `${lane}: payload ${JSON.stringify(order[i])}`);
    }
  }
  // The byte lane did read these from the bytes.
  assert.ok(eventsOf(variants, 'bytes').every((e) => e.tokens !== undefined));
});

test('the scanner leaves to the text reader what it does not read (quotes, non-ASCII bytes, more than 12 tokens), with the same result', () => {
  const odd = [
    REAL + ' comm="a b"',
    REAL + ' comm=caf\u00e9',
    REAL + ' a=1 b=2 c=3 d=4 e=5 f=6 g=7',
  ];
  const bytes = eventsOf(odd, 'bytes');
  assert.deepEqual(bytes.map((e) => e.tokens), [undefined, undefined, undefined]);
  assert.deepEqual(argsOf(odd, 'bytes'), argsOf(odd, 'text'));
  assert.deepEqual(argsOf(odd, 'bytes'), [expected, expected, expected]);
});

test('a token without a key holds its place in the layout', () => {
  for (const lane of ['text', 'bytes'] as const) {
    const got = argsOf(['x range=0x1 mm=0x2 flags=0 event=3', 'y range=0x4 mm=0x5 flags=1 event=3', 'y= range=0x7 mm=0x8 flags=1 event=3', '=y range=0x9 mm=0xa flags=1 event=3'], lane);
    assert.deepEqual(got.map((a) => [a.range, a.mm, a.flags, a.blockable]), [['0x1', '0x2', 0, false], ['0x4', '0x5', 1, true], ['0x7', '0x8', 1, true], ['0x9', '0xa', 1, true]], lane);
  }
});
