/**
 * `mntrace rules`: the list of rules (id, default severity, description), and
 * `mntrace rules <id>`: one rule's full documentation (rationale, commits,
 * kernel versions, what to capture, options with defaults).
 */
import type { Command } from 'commander';
import type { RuleModule } from '../engine/types';
import { rules as allRules } from '../../rules';
import { UsageError } from './common';

export interface RuleOptionDoc {
  name: string;
  type: string;
  default?: unknown;
  description?: string;
}

/** The options a rule takes, from its JSON Schema and defaults. */
export function ruleOptionDocs(rule: RuleModule): RuleOptionDoc[] {
  const props = (rule.meta.schema?.properties ?? {}) as Record<string, { type?: string | string[]; description?: string; items?: { type?: string } }>;
  return Object.entries(props).map(([name, p]) => {
    let type = Array.isArray(p.type) ? p.type.join(' | ') : p.type ?? 'any';
    if (type === 'array' && p.items?.type) type = `${p.items.type}[]`;
    const d = rule.meta.defaultOptions?.[name];
    return { name, type, ...(d !== undefined ? { default: d } : {}), ...(p.description ? { description: p.description } : {}) };
  });
}

/** One line per rule: id, default severity, description. */
export function renderRuleList(rules: readonly RuleModule[] = allRules): string {
  const idWidth = Math.max(...rules.map((r) => r.meta.id.length), 2);
  const lines = [`${'ID'.padEnd(idWidth)}  SEVERITY  DESCRIPTION`];
  for (const r of rules) lines.push(`${r.meta.id.padEnd(idWidth)}  ${r.meta.defaultSeverity.padEnd(8)}  ${r.meta.docs.description}`);
  lines.push('', 'Run `mntrace rules <id>` for a rule\'s rationale, commits, kernel versions, what to capture and options.');
  return lines.join('\n') + '\n';
}

/**
 * The README's rules table (`mntrace rules --markdown`), made from each rule's
 * meta: id, default severity, what it flags, and the kernel commits its
 * rationale cites (hash and version). test/readme.test.ts keeps the README equal to it.
 */
export function renderRuleTable(rules: readonly RuleModule[] = allRules): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
  const lines = ['| rule | default | what it flags | kernel commits |', '| --- | --- | --- | --- |'];
  for (const r of rules) {
    const commits = r.meta.docs.commits.flatMap((c) => /^([0-9a-f]{10,40}) \(([^)]*)\)/.exec(c)?.slice(1, 3).join(' (') ?? []).map((c) => `${c})`);
    lines.push(`| [\`${r.meta.id}\`](rules/${r.meta.id}.ts) | ${r.meta.defaultSeverity} | ${cell(r.meta.docs.description)} | ${cell(commits.join(', ')) || '-'} |`);
  }
  return lines.join('\n') + '\n';
}

/** A rule's full documentation as text. */
export function renderRuleDoc(rule: RuleModule): string {
  const m = rule.meta;
  const out: string[] = [`${m.id} (default severity: ${m.defaultSeverity})`, ''];
  out.push(...wrap(m.docs.description, 0), '');
  out.push('Rationale:', ...wrap(m.docs.rationale, 2), '');
  out.push('Commits:', ...m.docs.commits.flatMap((c) => wrap(c, 4, '  - ')), '');
  out.push('Kernels:', ...wrap(m.docs.kernels, 2), '');
  if (m.docs.capture) out.push('Capture:', ...wrap(m.docs.capture, 2), '');
  out.push('Evidence roles (the role of each evidence line of a finding):', ...Object.entries(m.evidenceRoles).flatMap(([id, text]) => wrap(`${id}: ${text}`, 4, '  - ')), '');
  if (m.restsOnAbsence) {
    out.push('Missing lines:', ...wrap('Its findings rest on an event being absent from the trace, so they are inconclusive when the file holds fewer entries than its header counted (lines cut or removed after the capture): check the whole trace file.', 2), '');
  }
  const opts = ruleOptionDocs(rule);
  if (opts.length) {
    out.push('Options (config: "rules": {"' + m.id + '": {"options": {...}}}):');
    for (const o of opts) {
      const head = `  ${o.name} (${o.type}${o.default !== undefined ? `, default ${JSON.stringify(o.default)}` : ''})`;
      out.push(head, ...(o.description ? wrap(o.description, 6) : []));
    }
  } else {
    out.push('Options: none');
  }
  return out.join('\n') + '\n';
}

/** The same, as JSON (for tools). */
export function ruleDocJson(rule: RuleModule): Record<string, unknown> {
  const m = rule.meta;
  return { id: m.id, defaultSeverity: m.defaultSeverity, ...m.docs, restsOnAbsence: m.restsOnAbsence === true, messages: m.messages, evidenceRoles: m.evidenceRoles, options: ruleOptionDocs(rule), ...(m.schema ? { schema: m.schema } : {}) };
}

export function findRule(id: string, rules: readonly RuleModule[] = allRules): RuleModule {
  const rule = rules.find((r) => r.meta.id === id);
  if (!rule) throw new UsageError(`unknown rule '${id}'; the rules are:\n${rules.map((r) => `  ${r.meta.id}`).join('\n')}`);
  return rule;
}

export function registerRulesCommand(program: Command): void {
  program
    .command('rules')
    .description('list the rules (id, default severity, description), or print one rule\'s full documentation')
    .argument('[id]', 'a rule id: print its rationale, commits, kernel versions, what to capture and its options')
    .option('--json', 'print JSON instead of text')
    .option('--markdown', 'the list as the Markdown table of the README')
    .action((id: string | undefined, opts: { json?: boolean; markdown?: boolean }) => {
      if (opts.markdown) {
        if (id !== undefined || opts.json) throw new UsageError('--markdown prints the table of all rules: give no rule id and no --json');
        process.stdout.write(renderRuleTable());
        return;
      }
      if (id === undefined) {
        process.stdout.write(opts.json
          ? JSON.stringify(allRules.map((r) => ({ id: r.meta.id, defaultSeverity: r.meta.defaultSeverity, description: r.meta.docs.description })), null, 2) + '\n'
          : renderRuleList());
        return;
      }
      const rule = findRule(id);
      process.stdout.write(opts.json ? JSON.stringify(ruleDocJson(rule), null, 2) + '\n' : renderRuleDoc(rule));
    });
}

/** Word-wrap a paragraph to 100 columns with an indent (and a first-line prefix in its place). */
function wrap(text: string, indent: number, first?: string): string[] {
  const width = 100;
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  const lines: string[] = [];
  let cur = first ?? ' '.repeat(indent);
  let empty = true;
  for (const w of words) {
    if (!empty && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = ' '.repeat(indent) + w;
    } else {
      cur += (empty ? '' : ' ') + w;
    }
    empty = false;
  }
  if (!empty) lines.push(cur);
  return lines;
}
