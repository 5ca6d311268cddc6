/**
 * Every event `mntrace probes` defines is recognised by mntrace itself, in
 * ftrace text, `trace-cmd report` and `perf script`, without any flag: lines
 * are shaped like the real 6.1 captures (fixtures/real), with the event's name
 * and the probed symbol (ftrace) or a raw address (trace-cmd, perf).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateProbes } from '../src/probes';
import { readTrace } from '../src/io/read-trace';
import type { TraceEvent } from '../src/model/event';
import { catalogErrors, loadCatalog, Semantics } from '../src/semantics';

const catalog = loadCatalog();
const semantics = new Semantics();

describe('the built-in probe catalog', () => {
  it('validates against src/semantics/catalog.schema.json (ajv)', () => {
    assert.equal(catalogErrors(catalog), undefined);
  });

  it('a catalog that breaks the schema is reported', () => {
    const broken = { ...catalog, probes: [{ symbol: '__mmu_notifier_invalidate_range_start', return: false, role: 'no-such-role' }] };
    assert.match(catalogErrors(broken) ?? '', /role/);
  });
});

/** The role the catalog gives a probed symbol (entry or return). */
function expectedRole(symbol: string, isReturn: boolean): string | undefined {
  return catalog.probes.find((p) => p.symbol === symbol && p.return === isReturn)?.role;
}

// Shapes of baseline.trace.txt line 25919/25922, baseline.trace-cmd-report.txt and baseline.perf-script.txt.
const ftraceLine = (event: string, symbol: string, ret: boolean) => ret
  ? `        kvmnotif-147     [001] .....     6.667965: ${event}: (__split_huge_pmd+0x501/0xfe0 <- ${symbol}) ret=0`
  : `        kvmnotif-147     [001] .....     6.667004: ${event}: (${symbol}+0x0/0x190) range=0xff4d4553c041bb88 mm=0xff201f0681057180 start=0x7fc83c800000 end=0x7fc83ca00000 flags=1 event=1`;
const traceCmdLine = (event: string, ret: boolean) => ret
  ? `        kvmnotif-318   [001]    23.565546: ${(event + ':').padEnd(21)} (ffffffffb7d20eb0 <- ffffffffb7d3ae41) ret=0`
  : `        kvmnotif-318   [001]    23.565443: ${(event + ':').padEnd(21)} (ffffffffb7d20eb0) range=0xff4d4553c087bb10 mm=0xff201f0681054d80 start=0x7fc2ddc00000 end=0x7fc2dde00000 flags=1 event=1`;
const perfLine = (group: string, event: string, ret: boolean) => ret
  ? `        kvmnotif   345 [000]    39.965444: ${`${group}:${event}:`.padStart(40)} (ffffffffb7d20eb0 <- ffffffffb7d3ae41) ret=0`
  : `        kvmnotif   345 [000]    39.964764: ${`${group}:${event}:`.padStart(40)} (ffffffffb7d20eb0) range=0xff4d4553c08b3aa0 mm=0xff201f0681054000 start=0x7fc26d200000 end=0x7fc26d400000 flags=1 event=1`;

async function firstEvent(text: string, format: string): Promise<TraceEvent> {
  const file = join(mkdtempSync(join(tmpdir(), 'mntrace-probes-')), 'trace.txt');
  writeFileSync(file, text + '\n');
  const events: TraceEvent[] = [];
  const r = await readTrace(file, (rec) => { if (rec.kind === 'event') events.push(rec); }, { format });
  assert.equal(r.info.unreadable, 0, `${format} line unreadable: ${text}`);
  assert.equal(events.length, 1);
  return events[0];
}

for (const kernel of ['6.1.0-56-amd64', '5.15.0-91-generic', '6.12.38+deb13-amd64']) {
  describe(`mntrace probes --kernel ${kernel}: every event is recognised`, () => {
    const set = generateProbes({ kernel, arch: 'x86_64' });
    for (const p of set.probes) {
      const ret = p.at === 'return';
      const role = expectedRole(p.symbol, ret);
      it(`${p.event} (${p.symbol}${ret ? ' return' : ''}) -> ${role ?? 'no role'}`, async () => {
        assert.ok(role, `the catalog has no role for ${p.symbol}`);
        const ft = await firstEvent(ftraceLine(p.event, p.symbol, ret), 'ftrace');
        assert.equal(semantics.resolve(ft)?.role, role, 'ftrace text');
        const tc = await firstEvent(traceCmdLine(p.event, ret), 'trace-cmd');
        assert.equal(semantics.resolve(tc)?.role, role, 'trace-cmd report');
        const kp = await firstEvent(perfLine('kprobes', p.event, ret), 'perf-script');
        assert.equal(semantics.resolve(kp)?.role, role, 'perf script, tracefs group');
        const pp = await firstEvent(perfLine('probe', p.event, ret), 'perf-script');
        assert.equal(semantics.resolve(pp)?.role, role, 'perf script, perf probe group');
      });
    }
  });
}
