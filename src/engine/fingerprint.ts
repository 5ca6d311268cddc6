/**
 * The stable fingerprint of a finding (`mntraceFingerprint/v2`): a hex
 * sha256 (32 characters) of the rule id, the trace file's base name and the
 * identity of the evidence events (line, task, timestamp, and the role id of
 * each: v1 took the role's words, so rewording one changed it). It holds no
 * absolute path and no run time, so the same trace gives the same
 * fingerprints wherever and whenever it is checked: the JSON report's
 * `fingerprint`, SARIF's partialFingerprints and baseline files all use it.
 */
import { createHash } from 'node:crypto';
import type { Finding } from './types';

/** The name of this fingerprint, as SARIF's partialFingerprints and baseline files carry it: change it with the hash. */
export const FINGERPRINT_KEY = 'mntraceFingerprint/v2';

/** A path's last component (traces are compared by file name, not by where they live). */
export function baseName(path: string): string {
  return path.replace(/^.*[\\/]/, '');
}

export function stableFingerprint(f: Pick<Finding, 'ruleId' | 'pid' | 'timestamp' | 'evidence'>): string {
  const main = f.evidence[0];
  const parts = [
    f.ruleId,
    baseName(main?.path ?? ''),
    `main ${main?.line ?? 0} ${f.pid} ${f.timestamp}`,
    ...f.evidence.map((e) => `${baseName(e.path)}:${e.line}:${e.role ?? ''}`),
  ];
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}
