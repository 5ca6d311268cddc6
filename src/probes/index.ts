/**
 * Probe generation for capturing mmu_notifier traces (`mntrace probes`).
 *
 *   const set = generateProbes({ kernel: '6.1.0-56-amd64', arch: 'x86_64' });
 *   set.definitions        // kprobe_events lines
 *   renderProbes('script', set, { command: ['./workload'] })
 */
export { generateProbes, defaultArch, ProbeOptionError, BTF_SYNTAX_SINCE, type GenerateOptions } from './generate';
export { renderProbes, DEFAULT_BUFFER_KB, type RenderOptions } from './render';
export { renderDefinition, renderPerfProbe, renderRemoval, argRegister, ARG_REGISTERS, type RenderContext } from './definitions';
export { checkProbeLine, checkProbeText, type CheckOptions, type CheckResult, type ParsedProbeLine, type ParsedFetchArg, type LineCheck } from './grammar';
export { parseKernelVersion, KernelVersionError, atLeast } from './kernel-version';
export { tableFacts, tableRangeLayout, EVENT_VALUES, SECONDARY_EVENT } from './tables';
export { applyBtfFacts, btfRangeFields } from './btf-facts';
export { captureDescription, eventDir, CAPTURE_FILES } from './script';
export { GROUP, KRETPROBE_MAXACTIVE } from './plan';
export * from './types';
