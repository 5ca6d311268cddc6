/**
 * Memory grows with open ranges, not with the size of the input (README,
 * "Speed and memory"): each structure that could grow with the input is
 * bounded here, by its size or by the heap of a child process, on inputs
 * generated at run time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Coverage } from '../src/engine/coverage';

describe('memory: coverage', () => {
  it('a run of 200,000 unreadable lines (or lost-event markers) with no event between them is one loss window', () => {
    const cov = new Coverage();
    const src = (line: number) => ({ file: 't', line });
    for (let line = 1; line <= 200_000; line++) {
      cov.record({ kind: 'unreadable', reason: 'x', text: 'x', src: src(line) });
      cov.record({ kind: 'lost', cpu: 1, count: 2, src: src(line) });
    }
    const open = (cov as unknown as { openLosses: unknown[] }).openLosses;
    assert.equal(open.length, 2);
    assert.deepEqual(cov.losses.map((w) => [w.why, w.line, w.count]), [['unreadable-line', 1, 200_000], ['lost-events', 1, 400_000]]);
    assert.equal(cov.lossBetween(undefined, undefined), true);
  });
});
