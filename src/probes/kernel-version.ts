/** Kernel release strings (`uname -r`) and comparisons against the version tables. */
import * as os from 'node:os';
import type { KernelVersion } from './types';

export class KernelVersionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelVersionError';
  }
}

/**
 * Parse a release such as `6.1.0-56-amd64`, `5.15.0-91-generic`, `6.12.38+deb13-amd64`,
 * `5.14.0-362.el9.x86_64`, `6.6` or `v6.8-rc3`. Only the leading `MAJOR.MINOR[.PATCH]` matters.
 */
export function parseKernelVersion(raw: string): KernelVersion {
  const text = raw.trim();
  const m = /^(?:v|linux-)?(\d+)\.(\d+)(?:\.(\d+))?(?!\d)/.exec(text);
  if (!m) {
    throw new KernelVersionError(`cannot read kernel version "${raw}": expected a release like 6.1.0-56-amd64 or 6.12 (as printed by uname -r)`);
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const patch = m[3] === undefined ? 0 : Number(m[3]);
  if (major < 2 || major > 99) throw new KernelVersionError(`kernel version "${raw}" has an implausible major number ${major}`);
  return { raw: text, major, minor, patch };
}

/** The running kernel's release, or undefined when not on Linux. */
export function runningKernelRelease(): string | undefined {
  return process.platform === 'linux' ? os.release() : undefined;
}

/** Compare `v` with `major.minor`: negative when older, 0 when the same series, positive when newer. */
export function compareSeries(v: KernelVersion, major: number, minor: number): number {
  return v.major !== major ? v.major - major : v.minor - minor;
}

/** True when `v` is `major.minor` or newer. */
export function atLeast(v: KernelVersion, major: number, minor: number): boolean {
  return compareSeries(v, major, minor) >= 0;
}

