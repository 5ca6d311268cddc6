import type { TraceEvent } from '../model/event';

/** One line a person can match against the trace: `kvmnotif-147 [001] 6.667004: mn_inv_start: range=0x...`. */
export function describeEvent(ev: TraceEvent, max = 220): string {
  const cpu = ev.cpu !== undefined ? ` [${String(ev.cpu).padStart(3, '0')}]` : '';
  const site = ev.probe?.symbol
    ? ev.probe.isReturn
      ? `(${ev.probe.returnTo?.symbol ?? ev.probe.returnTo?.address ?? '?'} <- ${ev.probe.symbol}) `
      : `(${ev.probe.symbol}) `
    : '';
  let s = `${ev.comm}-${ev.pid}${cpu} ${ev.ts.raw}: ${ev.group ? ev.group + ':' : ''}${ev.name}: ${site}${ev.payload}`;
  if (s.length > max) s = s.slice(0, max - 1) + '…';
  return s;
}
