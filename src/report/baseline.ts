/**
 * Baselines: findings someone reviewed and accepted. `--write-baseline <file>`
 * records every finding of a run by its stable fingerprint; `--baseline <file>`
 * then reports those findings as known, and only new ones can fail the run.
 *
 * The fingerprint (`mntraceFingerprint/v2`) is engine/fingerprint.ts's: the
 * one each finding carries, and SARIF's partialFingerprints. A baseline says
 * which it holds; one of v1 (before evidence roles were ids) must be written
 * again, since none of its fingerprints can match.
 */
import { writeFileSync } from 'node:fs';
import { readSmallFile } from '../util/small-file';
import type { Finding } from '../engine/types';
import { baseName, FINGERPRINT_KEY } from '../engine/fingerprint';
import { failsRun, type FailOn } from './report';

export interface BaselineEntry {
  fingerprint: string;
  ruleId: string;
  /** For people reviewing the file: where the finding was. */
  file: string;
  line: number;
  comm: string;
  pid: number;
  message: string;
}

export interface Baseline {
  tool: 'mntrace';
  version: 1;
  /** Which fingerprint its entries hold (FINGERPRINT_KEY); absent in baselines of mntraceFingerprint/v1. */
  fingerprint: typeof FINGERPRINT_KEY;
  findings: BaselineEntry[];
}

export class BaselineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BaselineError';
  }
}

export function makeBaseline(findings: readonly Finding[]): Baseline {
  const seen = new Set<string>();
  const entries: BaselineEntry[] = [];
  for (const f of findings) {
    const fingerprint = f.fingerprint;
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    entries.push({
      fingerprint, ruleId: f.ruleId, file: baseName(f.evidence[0]?.path ?? ''), line: f.evidence[0]?.line ?? 0,
      comm: f.comm, pid: f.pid, message: f.message,
    });
  }
  entries.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.ruleId.localeCompare(b.ruleId) || a.fingerprint.localeCompare(b.fingerprint));
  return { tool: 'mntrace', version: 1, fingerprint: FINGERPRINT_KEY, findings: entries };
}

export function writeBaseline(path: string, findings: readonly Finding[]): Baseline {
  const b = makeBaseline(findings);
  writeFileSync(path, JSON.stringify(b, null, 2) + '\n');
  return b;
}

/** A baseline larger than this is not one (--baseline /dev/zero): about 250 bytes a finding. */
const BASELINE_MAX_BYTES = 64 << 20;

/** Read a baseline file; throws BaselineError with what is wrong. */
export function readBaseline(path: string): Baseline {
  let text: string;
  try {
    text = readSmallFile(path, BASELINE_MAX_BYTES);
  } catch (err) {
    throw new BaselineError(`cannot read baseline ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new BaselineError(`baseline ${path} is not JSON: ${(err as Error).message}`);
  }
  const b = data as Partial<Baseline>;
  if (!b || typeof b !== 'object' || b.version !== 1 || !Array.isArray(b.findings)) {
    throw new BaselineError(`baseline ${path} is not an mntrace baseline (expected {"tool":"mntrace","version":1,"fingerprint":"${FINGERPRINT_KEY}","findings":[...]}, as --write-baseline writes)`);
  }
  if (b.fingerprint !== FINGERPRINT_KEY) {
    throw new BaselineError(`baseline ${path} holds fingerprints of ${typeof b.fingerprint === 'string' ? b.fingerprint : 'mntraceFingerprint/v1'} (an older mntrace), which cannot match this version's ${FINGERPRINT_KEY}: review the findings and write it again with --write-baseline`);
  }
  b.findings.forEach((e, i) => {
    if (!e || typeof e.fingerprint !== 'string') throw new BaselineError(`baseline ${path}: findings[${i}] has no "fingerprint" string`);
  });
  return b as Baseline;
}

export interface BaselineSplit {
  /** Fingerprints (stable) of the findings the baseline already accepted. */
  known: Set<string>;
  knownFindings: Finding[];
  newFindings: Finding[];
  /** Baseline entries no finding matched any more (fixed, or the trace changed). */
  absent: BaselineEntry[];
}

export function applyBaseline(findings: readonly Finding[], baseline: Baseline): BaselineSplit {
  const accepted = new Map(baseline.findings.map((e) => [e.fingerprint, e]));
  const known = new Set<string>();
  const knownFindings: Finding[] = [];
  const newFindings: Finding[] = [];
  const matched = new Set<string>();
  for (const f of findings) {
    const fp = f.fingerprint;
    if (accepted.has(fp)) {
      known.add(fp);
      matched.add(fp);
      knownFindings.push(f);
    } else {
      newFindings.push(f);
    }
  }
  return { known, knownFindings, newFindings, absent: baseline.findings.filter((e) => !matched.has(e.fingerprint)) };
}

/** Does this finding fail the run, given the threshold and the findings a baseline accepted? */
export function failsWithBaseline(f: Finding, failOn: FailOn, known: ReadonlySet<string> | undefined): boolean {
  if (known && known.size && known.has(f.fingerprint)) return false;
  return failsRun(f, failOn);
}
