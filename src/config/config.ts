/**
 * The user configuration (`--config FILE`): event mappings, field aliases,
 * rule severities and options, engine thresholds. Validated with ajv; errors
 * name the offending key.
 */
import { readSmallFile } from '../util/small-file';
import { dirname, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { compileSchema, explainAjvErrors } from './ajv';
import { optionsSchema, type Severity } from '../engine/types';
import type { EventMapping } from '../semantics';
import schema from './config.schema.json';
import catalogSchema from '../semantics/catalog.schema.json';
import { rules, ruleById } from '../../rules';

export type RuleSetting = 'off' | Severity | { severity?: 'off' | Severity; options?: Record<string, unknown> };

export interface Config {
  events?: Record<string, EventMapping>;
  fields?: Record<string, string[]>;
  rules?: Record<string, RuleSetting>;
  engine?: { likelyAfterMs?: number; maxFindingsPerRule?: number };
  kprobeEvents?: string;
  /** check --require-ranges: an input with no range at all fails the run. */
  requireRanges?: boolean;
}

/** A config larger than this is not one (--config /dev/zero). */
const CONFIG_MAX_BYTES = 16 << 20;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Compiled on first use: a run without --config or rule options compiles no schema (startup time). */
let validateConfig: ValidateFunction | undefined;

export function parseConfig(data: unknown, source = 'config'): Config {
  validateConfig ??= compileSchema(schema, true);
  if (!validateConfig(data)) throw new ConfigError(`${source}: ${explainAjvErrors(validateConfig.errors, '')}`);
  rejectNonFinite(data, '', source);
  const cfg = data as Config;
  const roles: readonly string[] = catalogSchema.$defs.role.enum;
  for (const [name, mapping] of Object.entries(cfg.events ?? {})) {
    if (mapping.role !== undefined && !roles.includes(mapping.role)) {
      throw new ConfigError(`${source}: events.${name}.role: unknown role '${mapping.role}' (known: ${roles.join(', ')})`);
    }
  }
  for (const [id, setting] of Object.entries(cfg.rules ?? {})) {
    const rule = ruleById(id);
    if (!rule) throw new ConfigError(`${source}: rules.${id}: no such rule (known: ${rules.map((r) => r.meta.id).join(', ')})`);
    if (typeof setting === 'object' && setting.options) ruleOptions(id, setting.options, source);
  }
  return cfg;
}

export function loadConfig(path: string): Config & { baseDir: string } {
  let text: string;
  try {
    text = readSmallFile(path, CONFIG_MAX_BYTES);
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const cfg = parseConfig(data, path);
  return { ...cfg, baseDir: dirname(resolve(path)) };
}

/**
 * JSON reads a number too large for a double (`1e400`) as Infinity, which
 * every schema's "number" accepts: reject it with the key that holds it.
 */
function rejectNonFinite(data: unknown, path: string, source: string): void {
  if (typeof data === 'number') {
    if (!Number.isFinite(data)) throw new ConfigError(`${source}: ${path || '(top level)'}: the number is too large (beyond a double, read as ${data})`);
  } else if (Array.isArray(data)) {
    data.forEach((v, i) => rejectNonFinite(v, `${path}[${i}]`, source));
  } else if (data !== null && typeof data === 'object') {
    for (const [k, v] of Object.entries(data)) rejectNonFinite(v, path ? `${path}.${k}` : k, source);
  }
}

const optionValidators = new Map<string, ValidateFunction>();

/**
 * Defaults merged with the user's options, validated against the rule's schema.
 * Without user options the defaults are returned as they are (a test holds every
 * rule's defaults to its schema), so a plain run compiles no option schema.
 */
export function ruleOptions(id: string, user: Record<string, unknown> | undefined, source = 'config'): Record<string, unknown> {
  const rule = ruleById(id);
  if (!rule) throw new ConfigError(`${source}: no such rule '${id}'`);
  const merged = { ...(rule.meta.defaultOptions ?? {}), ...(user ?? {}) };
  if (user === undefined) return merged;
  rejectNonFinite(user, `rules.${id}.options`, source);
  const schemaObj = rule.meta.schema ?? optionsSchema({});
  let v = optionValidators.get(id);
  if (!v) {
    v = compileSchema(schemaObj, true);
    optionValidators.set(id, v);
  }
  if (!v(merged)) throw new ConfigError(`${source}: ${explainAjvErrors(v.errors, `rules.${id}.options`)}`);
  return merged;
}

/** The effective severity of a rule (undefined = off). */
export function ruleSeverity(id: string, cfg: Config | undefined): Severity | undefined {
  const rule = ruleById(id);
  const s = cfg?.rules?.[id];
  const sev = s === undefined ? rule?.meta.defaultSeverity : typeof s === 'string' ? s : s.severity ?? rule?.meta.defaultSeverity;
  return sev === 'off' ? undefined : sev;
}
