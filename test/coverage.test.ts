/**
 * Coverage.lossBetween answers from merged, sorted spans (a binary search):
 * it must say exactly what checking every loss window would say (two times
 * in either order: the interval between them), whatever
 * the mix of lost-event markers, unreadable lines, buffer starts, windows
 * left open and windows over the whole capture.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Coverage, type LossWindow } from '../src/engine/coverage';
import { compareTimestamps, timestampFromParts } from '../src/model/time';
import type { Timestamp } from '../src/model/event';

/** Any window overlapping [a, b], checked one by one (undefined bounds are open). */
function bruteForce(windows: readonly LossWindow[], a: Timestamp | undefined, b: Timestamp | undefined): boolean {
  if (a && b && compareTimestamps(a, b) > 0) [a, b] = [b, a];
  return windows.some((w) => (!b || !w.from || compareTimestamps(w.from, b) <= 0) && (!a || !w.to || compareTimestamps(w.to, a) >= 0));
}

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe('coverage: lossBetween', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`agrees with a window-by-window check (random capture ${seed})`, () => {
      const r = rng(seed);
      const cov = new Coverage();
      const src = (line: number) => ({ file: 't', line });
      let ns = 1_000_000;
      const seen: Timestamp[] = [];
      for (let line = 1; line <= 3000; line++) {
        const x = r();
        if (x < 0.05) cov.record({ kind: 'lost', cpu: Math.floor(r() * 3), count: 1, src: src(line) });
        else if (x < 0.1) cov.record({ kind: 'unreadable', reason: 'x', text: 'x', src: src(line) });
        else if (x < 0.101) cov.record({ kind: 'buffer-started', cpu: Math.floor(r() * 3), src: src(line) });
        else {
          ns += Math.floor(r() * 5000);
          const sec = Math.floor(ns / 1e9);
          cov.tick(Math.floor(r() * 3), sec, ns - sec * 1e9, 6, line);
          seen.push(timestampFromParts(sec, ns - sec * 1e9, 6));
        }
        if (line % 100 === 0) {
          for (let q = 0; q < 20; q++) {
            const a = r() < 0.1 ? undefined : seen[Math.floor(r() * seen.length)];
            const b = r() < 0.1 ? undefined : seen[Math.floor(r() * seen.length)];
            assert.equal(cov.lossBetween(a, b), bruteForce(cov.losses, a, b), `line ${line}: [${a?.raw}, ${b?.raw}]`);
          }
        }
      }
      // Every window was listed (below the report limit), so the check above saw them all.
      assert.ok(cov.losses.length > 0 && cov.losses.length < 10000, `${cov.losses.length} windows`);
    });
  }

  it('no loss: false; a window over the whole capture (missing entries): true everywhere', () => {
    const cov = new Coverage();
    cov.tick(0, 1, 0, 6, 1);
    cov.tick(0, 2, 0, 6, 2);
    assert.equal(cov.lossBetween(timestampFromParts(1, 0, 6), timestampFromParts(2, 0, 6)), false);
    cov.record({ kind: 'missing-entries', claimed: 10, found: 2, src: { file: 't', line: 1 } });
    assert.equal(cov.lossBetween(timestampFromParts(1, 0, 6), timestampFromParts(1, 5, 6)), true);
  });
});
