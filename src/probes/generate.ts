/**
 * `generateProbes`: from a kernel version (and optionally its BTF) to the probe definitions,
 * tracepoints and triggers of a capture.
 */
import { Btf, readBtfFile, parseBtf } from '../btf/reader';
import { applyBtfFacts, btfMissingFunctions } from './btf-facts';
import { renderDefinition, type RenderContext } from './definitions';
import { atLeast, parseKernelVersion, runningKernelRelease } from './kernel-version';
import { GROUP, planProbes, planTracepoints, planTriggers } from './plan';
import { SYM_ITREE_INV_END, SYM_OOM_REAP, tableFacts, tableWarnings } from './tables';
import { ARCHES, SYNTAXES, type Arch, type KernelVersion, type ProbeSet, type ProbeSyntax } from './types';

export class ProbeOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeOptionError';
  }
}

export interface GenerateOptions {
  /** Kernel release (`6.1.0-56-amd64`) or a parsed version. Default: `uname -r` on Linux. */
  kernel?: string | KernelVersion;
  /** Target architecture. Default: this machine's (x86_64 or arm64), else x86_64. */
  arch?: Arch | string;
  /** Default `offsets`. */
  syntax?: ProbeSyntax | string;
  /** BTF of the target kernel: a parsed {@link Btf}, its bytes, or a file path (raw, .gz or ELF). */
  btf?: Btf | Uint8Array | string;
}

/** The BTF-named probe arguments and `f:` fprobe events arrived together in about 6.5. */
export const BTF_SYNTAX_SINCE: readonly [number, number] = [6, 5];

export function defaultArch(): Arch {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

function resolveKernel(kernel: GenerateOptions['kernel']): { version: KernelVersion; source: 'option' | 'uname' } {
  if (kernel !== undefined && typeof kernel !== 'string') return { version: kernel, source: 'option' };
  if (kernel !== undefined) return { version: parseKernelVersion(kernel), source: 'option' };
  const running = runningKernelRelease();
  if (running === undefined) throw new ProbeOptionError(`--kernel is required when not running on Linux (this is ${process.platform}): give the target's uname -r, e.g. --kernel 6.1.0-56-amd64`);
  return { version: parseKernelVersion(running), source: 'uname' };
}

function loadBtf(btf: GenerateOptions['btf']): Btf | undefined {
  if (btf === undefined) return undefined;
  if (btf instanceof Btf) return btf;
  if (typeof btf === 'string') return readBtfFile(btf);
  return parseBtf(btf);
}

/** Build the capture plan for one kernel. Throws {@link ProbeOptionError} on bad options, BtfError on bad BTF. */
export function generateProbes(options: GenerateOptions = {}): ProbeSet {
  const { version, source } = resolveKernel(options.kernel);
  const arch = (options.arch ?? defaultArch()) as Arch;
  if (!ARCHES.includes(arch)) throw new ProbeOptionError(`unknown --arch "${options.arch}": use ${ARCHES.join(' or ')}`);
  const syntax = (options.syntax ?? 'offsets') as ProbeSyntax;
  if (!SYNTAXES.includes(syntax)) throw new ProbeOptionError(`unknown --syntax "${options.syntax}": use ${SYNTAXES.join(' or ')}`);
  if (syntax === 'btf' && !atLeast(version, BTF_SYNTAX_SINCE[0], BTF_SYNTAX_SINCE[1])) {
    throw new ProbeOptionError(
      `--syntax btf needs a kernel with BTF-named probe arguments and fprobe events (about ${BTF_SYNTAX_SINCE.join('.')}+; 6.1 rejects them, 6.12 accepts them); ` +
        `kernel ${version.raw} is older: use --syntax offsets`,
    );
  }

  const warnings = tableWarnings(version);
  const facts = tableFacts(version);
  const btf = loadBtf(options.btf);
  if (btf) {
    warnings.push(...applyBtfFacts(facts, btf));
    const missing = btfMissingFunctions(btf, [SYM_ITREE_INV_END, SYM_OOM_REAP]).filter((s) => s !== SYM_ITREE_INV_END || facts.intervalNotifiers);
    for (const s of missing) warnings.push(`BTF has no function ${s}: it is probably inlined on this kernel, so its probe will likely fail to register (the capture goes on without it)`);
  }
  if (syntax === 'btf' && !facts.range && facts.provenance.range === 'btf') {
    throw new ProbeOptionError('--syntax btf: this kernel has no struct mmu_notifier_range, so there are no fields to name: use --syntax offsets');
  }

  const probes = planProbes(facts);
  const ctx: RenderContext = { arch, syntax, group: GROUP, paramNames: facts.paramNames };
  const definitions = probes.map((p) => renderDefinition(p, ctx));
  return {
    kernel: version,
    kernelSource: source,
    arch,
    syntax,
    group: GROUP,
    definitionsFile: syntax === 'btf' ? 'dynamic_events' : 'kprobe_events',
    facts,
    probes,
    definitions,
    tracepoints: planTracepoints(version),
    triggers: planTriggers(),
    warnings,
    ...(btf ? { btfSource: btf.source } : {}),
  };
}

/** The context the renderers need to write the probes of `set` again (perf syntax, removal lines). */
export function renderContextOf(set: ProbeSet): RenderContext {
  return { arch: set.arch, syntax: set.syntax, group: set.group, paramNames: set.facts.paramNames };
}
