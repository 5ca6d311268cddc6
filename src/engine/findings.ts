/**
 * The finding store: what the rules report becomes findings here, once each.
 * A report of a code site already reported (same rule, confidence and site)
 * is counted on the first finding (Finding.repeats); past the per-rule limit
 * findings are counted by rule, severity and confidence (UnlistedFindings),
 * not kept, so memory stays flat however often a trace repeats a defect; the
 * same finding made twice (two handlers reaching one verdict) is kept once.
 * A kept finding's message and its stable fingerprint are made here, once:
 * every report reads `finding.fingerprint`.
 */
import { describeEvent } from './describe';
import { stableFingerprint } from './fingerprint';
import { format, type Confidence, type Finding, type ReportDescriptor, type Severity, type UnlistedFindings } from './types';

/** Findings kept in full per rule by default: the first ones, in trace order (the rest are counted). */
export const DEFAULT_MAX_FINDINGS_PER_RULE = 1000;

export interface FindingStoreOptions {
  /** Findings kept in full per rule (default DEFAULT_MAX_FINDINGS_PER_RULE); the rest are counted in `unlisted`. */
  maxFindingsPerRule?: number;
  /** Called for each finding kept, as soon as it is made (live output). */
  onFinding?: (f: Finding) => void;
  /** Called for each finding past the per-rule limit, with its rule's running count (live output: findings go on). */
  onUnlisted?: (u: Readonly<UnlistedFindings>) => void;
}

export class FindingStore {
  readonly findings: Finding[] = [];
  /** Findings beyond the per-rule limit: counted by rule, severity and confidence, not kept. */
  readonly unlisted = new Map<string, UnlistedFindings>();
  /** Keys of the findings kept (rule, main line, task, message): the same finding made twice is kept once. */
  private readonly seen = new Set<string>();
  /** Kept findings that name a code site, by rule, confidence and site (their repeats are counted on them). */
  private readonly bySite = new Map<string, Finding>();
  /** Findings kept so far, per rule. */
  private readonly keptByRule = new Map<string, number>();

  constructor(private readonly opts: FindingStoreOptions = {}) {}

  /** Keep or count one report of rule `ruleId`; its message is made from `template` only when it is kept. */
  add(ruleId: string, severity: Severity, d: ReportDescriptor, template: string): void {
    const ev = d.event;
    const confidence: Confidence = d.confidence;
    // Inconclusive findings are reported for information only: they never fail a run.
    const shownSeverity: Severity = confidence === 'inconclusive' ? 'info' : severity;
    // The same code site doing the same again: counted on its first finding.
    const siteKey = d.site !== undefined ? `${ruleId}\u0000${confidence}\u0000${d.site}` : undefined;
    const first = siteKey !== undefined ? this.bySite.get(siteKey) : undefined;
    if (first) {
      const r = (first.repeats ??= { count: 0, last: { path: '', line: 0, timestamp: '' } });
      r.count++;
      r.last = { path: ev.src.file, line: ev.src.line, timestamp: ev.ts.raw };
      return;
    }
    const kept = this.keptByRule.get(ruleId) ?? 0;
    if (kept >= (this.opts.maxFindingsPerRule ?? DEFAULT_MAX_FINDINGS_PER_RULE)) {
      const u = this.count(ruleId, shownSeverity, confidence, 1);
      this.opts.onUnlisted?.(u);
      return;
    }
    const message = format(template, d.data ?? {});
    const same = `${ruleId}\u0000${ev.src.file}\u0000${ev.src.line}\u0000${ev.pid}\u0000${message}`;
    if (this.seen.has(same)) return;
    this.seen.add(same);
    this.keptByRule.set(ruleId, kept + 1);
    const evidence = d.evidence.map(({ ev: e, role }) => ({ path: e.src.file, line: e.src.line, ...(role ? { role } : {}), text: describeEvent(e) }));
    const timestamp = ev.ts.raw;
    const finding: Finding = {
      ruleId,
      severity: shownSeverity,
      confidence,
      message,
      pid: ev.pid,
      comm: ev.comm,
      ...(ev.cpu !== undefined ? { cpu: ev.cpu } : {}),
      ...(ev.machine !== undefined ? { machine: ev.machine } : {}),
      timestamp,
      evidence,
      fingerprint: stableFingerprint({ ruleId, pid: ev.pid, timestamp, evidence }),
      messageId: d.messageId,
    };
    this.findings.push(finding);
    if (siteKey !== undefined) this.bySite.set(siteKey, finding);
    this.opts.onFinding?.(finding);
  }

  /**
   * What the rules in `ruleIds` found absent may be on lines the input lacks
   * (`why` says so): their findings, kept or counted, become inconclusive.
   */
  demote(ruleIds: ReadonlySet<string>, why: string): void {
    for (const f of this.findings) {
      if (f.confidence === 'inconclusive' || !ruleIds.has(f.ruleId)) continue;
      f.confidence = 'inconclusive';
      f.severity = 'info';
      f.message = f.message.replace(/\.?$/, `${why}.`);
    }
    for (const [key, u] of [...this.unlisted]) {
      if (u.confidence === 'inconclusive' || !ruleIds.has(u.ruleId)) continue;
      this.unlisted.delete(key);
      this.count(u.ruleId, 'info', 'inconclusive', u.count);
    }
  }

  private count(ruleId: string, severity: Severity, confidence: Confidence, n: number): UnlistedFindings {
    const key = `${ruleId}|${severity}|${confidence}`;
    let u = this.unlisted.get(key);
    if (u) u.count += n;
    else this.unlisted.set(key, (u = { ruleId, severity, confidence, count: n }));
    return u;
  }
}
