/**
 * The library's public entry point (`require('mntrace')`): analyse a trace,
 * build the report the CLI prints, and render it in any of its formats.
 */
export {
  analyzeTrace, analyzeMerged, readKprobeEventsFile, kernelInfo,
  type AnalyzeOptions, type AnalysisResult, type InputSummary, type RangeOutcome,
} from './analyze';
export { loadConfig, parseConfig, ConfigError, type Config } from './config/config';
export { InputError } from './io/source';
export { buildReport, inputFromResult, failsRun, type Report, type FailOn } from './report/report';
export { renderJson } from './report/json';
export { renderSarif, type SarifOptions } from './report/sarif';
export { renderJunit, type JunitOptions } from './report/junit';
export { parseKprobeEvents, type KprobeDefinition } from './semantics/kprobe-events';
export { rules, ruleMetas, ruleById } from '../rules';
export type { Finding, Severity, Confidence, EvidenceRef, RangeRecord, RuleMeta } from './engine/types';
export type { TraceEvent, TraceRecord } from './model/event';
