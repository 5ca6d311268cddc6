import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { readBtfFile } from '../src/btf/reader';
import { registerProbesCommand, runProbesCommand } from '../src/cli/probes';
import { UsageError } from '../src/cli/common';
import {
  checkProbeLine,
  checkProbeText,
  EVENT_VALUES,
  generateProbes,
  parseKernelVersion,
  ProbeOptionError,
  renderProbes,
  type Arch,
  type ProbeSet,
  type ProbeSyntax,
} from '../src/probes';
import { version as mntraceVersion } from '../src/version';

const ROOT = join(__dirname, '..', '..');
const FIXTURE_61 = join(ROOT, 'fixtures', 'real', 'kprobe_events-6.1.txt');
const REAL_BTF = join(ROOT, 'fixtures', 'real', 'btf', 'vmlinux-6.1.0-56-amd64.btf.gz');
const KERNEL_61 = '6.1.0-56-amd64';

const fixture61 = readFileSync(FIXTURE_61, 'utf8');
const btf61 = readBtfFile(REAL_BTF);

function text(set: ProbeSet): string {
  return set.definitions.join('\n') + '\n';
}

function line(set: ProbeSet, event: string): string {
  const l = set.definitions.find((d) => d.split(' ')[0].endsWith(`/${event}`));
  assert.ok(l, `no probe ${event} in:\n${text(set)}`);
  return l;
}

function hasShellcheck(): boolean {
  return spawnSync('shellcheck', ['--version'], { encoding: 'utf8' }).status === 0;
}

function shellcheck(script: string, t: { skip: (msg: string) => void }): void {
  if (!hasShellcheck()) {
    t.skip('shellcheck is not installed (apt-get install -y shellcheck): the generated script was not linted');
    return;
  }
  const r = spawnSync('shellcheck', ['--shell=sh', '-'], { input: script, encoding: 'utf8' });
  assert.equal(r.status, 0, `shellcheck found problems:\n${r.stdout}${r.stderr}`);
}

describe('kernel versions', () => {
  test('uname -r strings', () => {
    const cases: Array<[string, [number, number, number]]> = [
      ['6.1.0-56-amd64', [6, 1, 0]],
      ['5.15.0-91-generic', [5, 15, 0]],
      ['6.12.38+deb13-amd64', [6, 12, 38]],
      ['5.14.0-362.el9.x86_64', [5, 14, 0]],
      ['6.6', [6, 6, 0]],
      ['v6.8-rc3', [6, 8, 0]],
      ['4.19.0-27-amd64', [4, 19, 0]],
    ];
    for (const [raw, [major, minor, patch]] of cases) {
      assert.deepEqual(parseKernelVersion(raw), { raw, major, minor, patch }, raw);
    }
    assert.throws(() => parseKernelVersion('latest'), /cannot read kernel version "latest"/);
  });

  test('default is the running kernel on Linux', { skip: process.platform !== 'linux' }, () => {
    const set = generateProbes();
    assert.equal(set.kernelSource, 'uname');
  });
});

describe('6.1: the real capture definitions', () => {
  test('the version tables reproduce kprobe_events.txt byte for byte', () => {
    const set = generateProbes({ kernel: KERNEL_61, arch: 'x86_64' });
    assert.equal(text(set), fixture61);
    assert.equal(set.facts.range?.source, 'table');
    assert.equal(set.definitionsFile, 'kprobe_events');
    assert.deepEqual(set.warnings, []);
  });

  test('with --btf, offsets and enum values come from the BTF', () => {
    const set = generateProbes({ kernel: KERNEL_61, arch: 'x86_64', btf: REAL_BTF });
    assert.equal(text(set), fixture61);
    assert.equal(set.facts.range?.source, 'btf');
    assert.deepEqual(
      set.facts.range?.fields.map((f) => [f.name, f.offset, f.size]),
      [['vma', 0, 8], ['mm', 8, 8], ['start', 16, 8], ['end', 24, 8], ['flags', 32, 4], ['event', 36, 4], ['owner', 40, 8]],
    );
    // The kernel's own enum (the real 6.1 BTF; btf.test.ts pins it value by value) is the version table's.
    assert.deepEqual(set.facts.eventValues, EVENT_VALUES);
    assert.deepEqual(set.facts.eventValues.at(-1), { name: 'MMU_NOTIFY_EXCLUSIVE', value: 7 });
    // The enum is the BTF's, not the table's: the table of a kernel before EXCLUSIVE (about 5.13) has no EXCLUSIVE.
    assert.equal(generateProbes({ kernel: '5.10.0', arch: 'x86_64' }).facts.eventValues.length, 7);
    assert.deepEqual(generateProbes({ kernel: '5.10.0', arch: 'x86_64', btf: btf61 }).facts.eventValues, EVENT_VALUES);
    for (const fact of ['range', 'eventValues', 'endOnlyEnd', 'secondaryTlb', 'kvmRangeHook', 'startReturnsInt']) {
      assert.equal(set.facts.provenance[fact], 'btf', fact);
    }
    assert.equal(set.btfSource, REAL_BTF);
  });

  test('BTF alone decides: a wrong --kernel 6.12 with the 6.1 BTF still gives the 6.1 probes', () => {
    const set = generateProbes({ kernel: '6.12.38+deb13-amd64', arch: 'x86_64', btf: btf61 });
    assert.equal(text(set), fixture61);
    assert.ok(set.warnings.some((w) => /differs from the version table/.test(w)), set.warnings.join('\n'));
    assert.ok(set.warnings.some((w) => /only_end/.test(w)));
    assert.ok(set.warnings.some((w) => /__mmu_notifier_invalidate_range, unlike the version table/.test(w)));
  });

  test('BTF given as bytes works too', () => {
    const set = generateProbes({ kernel: KERNEL_61, arch: 'x86_64', btf: readFileSync(REAL_BTF) });
    assert.equal(text(set), fixture61);
  });
});

describe('other kernels', () => {
  test('6.6 and later: no only_end, the new secondary-TLB hook, no KVM ->invalidate_range', () => {
    for (const k of ['6.6.0', '6.12.38+deb13-amd64', '6.18.1']) {
      const set = generateProbes({ kernel: k, arch: 'x86_64' });
      const t = text(set);
      assert.doesNotMatch(line(set, 'mn_inv_end'), /only_end/, k);
      assert.equal(line(set, 'mn_inv_secondary_tlbs'), 'p:kprobes/mn_inv_secondary_tlbs __mmu_notifier_arch_invalidate_secondary_tlbs mm=%di:x64 start=%si:x64 end=%dx:x64');
      assert.doesNotMatch(t, /__mmu_notifier_invalidate_range /, k);
      assert.doesNotMatch(t, /kvm_mn_inv_range|mn_inv_range /, k);
    }
  });

  test('6.3 and later: no vma, mm at offset 0; 6.3-6.5 keep only_end and the old hook', () => {
    const s63 = generateProbes({ kernel: '6.3.0', arch: 'x86_64' });
    assert.ok(!s63.facts.range?.fields.some((f) => f.name === 'vma'));
    assert.equal(
      line(s63, 'mn_inv_start'),
      'p:kprobes/mn_inv_start __mmu_notifier_invalidate_range_start range=%di:x64 mm=+0(%di):x64 start=+8(%di):x64 end=+16(%di):x64 flags=+24(%di):u32 event=+28(%di):u32',
    );
    assert.match(line(s63, 'mn_inv_end'), / only_end=%si:u8$/);
    assert.match(line(s63, 'kvm_mn_inv_start'), /range=%si:x64 mm=\+0\(%si\):x64 start=\+8\(%si\):x64 .* event=\+28\(%si\):u32$/);
    assert.ok(s63.definitions.some((d) => d.includes(' __mmu_notifier_invalidate_range ')));
    const s62 = generateProbes({ kernel: '6.2.16', arch: 'x86_64' });
    assert.ok(s62.facts.range?.fields.some((f) => f.name === 'vma' && f.offset === 0));
  });

  test('5.x keeps the 6.1 layout; 5.0 has bool blockable; before 5.0 there is no range struct', () => {
    const s54 = generateProbes({ kernel: '5.4.0-150-generic', arch: 'x86_64' });
    assert.equal(line(s54, 'mn_inv_start'), fixture61.split('\n')[0]);
    assert.ok(!s54.definitions.some((d) => d.includes('mmu_interval_notifier')), 'interval notifiers arrived in about 5.5');
    assert.ok(!s54.tracepoints.some((t) => t.spec.startsWith('mmap_lock')), 'mmap_lock tracepoints arrived in about 5.10');
    const s50 = generateProbes({ kernel: '5.0.21', arch: 'x86_64' });
    assert.match(line(s50, 'mn_inv_start'), /range=%di:x64 mm=\+0\(%di\):x64 start=\+8\(%di\):x64 end=\+16\(%di\):x64 blockable=\+24\(%di\):u8$/);
    const s419 = generateProbes({ kernel: '4.19.0-27-amd64', arch: 'x86_64' });
    assert.equal(line(s419, 'mn_inv_start'), 'p:kprobes/mn_inv_start __mmu_notifier_invalidate_range_start mm=%di:x64 start=%si:x64 end=%dx:x64 blockable=%cx:u8');
    assert.equal(line(s419, 'mn_inv_end'), 'p:kprobes/mn_inv_end __mmu_notifier_invalidate_range_end mm=%di:x64 start=%si:x64 end=%dx:x64 only_end=%cx:u8');
    assert.match(line(s419, 'kvm_mn_inv_start'), /mn=%di:x64 mm=%si:x64 start=%dx:x64 end=%cx:x64 blockable=%r8:u8$/);
    assert.equal(s419.facts.range, undefined);
    const s49 = generateProbes({ kernel: '4.9.0', arch: 'x86_64' });
    assert.ok(!s49.definitions.some((d) => d.includes('mn_inv_start_ret')), 'the start returned void before about 4.19');
    assert.ok(s49.warnings.some((w) => /older than the tables cover/.test(w)));
  });

  test('arm64 registers', () => {
    const set = generateProbes({ kernel: KERNEL_61, arch: 'arm64' });
    assert.equal(
      line(set, 'mn_inv_start'),
      'p:kprobes/mn_inv_start __mmu_notifier_invalidate_range_start range=%x0:x64 mm=+8(%x0):x64 start=+16(%x0):x64 end=+24(%x0):x64 flags=+32(%x0):u32 event=+36(%x0):u32',
    );
    assert.match(line(set, 'mn_inv_end'), / only_end=%x1:u8$/);
    assert.equal(line(set, 'kvm_mn_inv_range'), 'p:kprobes/kvm_mn_inv_range kvm_mmu_notifier_invalidate_range mn=%x0:x64 mm=%x1:x64 start=%x2:x64 end=%x3:x64');
    assert.equal(line(set, 'mn_inv_start_ret'), 'r10:kprobes/mn_inv_start_ret __mmu_notifier_invalidate_range_start ret=$retval:s32');
    assert.doesNotMatch(text(set), /%di|%si|%dx|%cx/);
    const legacy = generateProbes({ kernel: '4.19', arch: 'arm64' });
    assert.match(line(legacy, 'kvm_mn_inv_start'), /blockable=%x4:u8$/);
  });

  test('--syntax btf: fprobes with BTF names, no offsets', () => {
    const set = generateProbes({ kernel: '6.12.38+deb13-amd64', arch: 'x86_64', syntax: 'btf' });
    assert.equal(set.definitionsFile, 'dynamic_events');
    assert.equal(
      line(set, 'mn_inv_start'),
      'f:kprobes/mn_inv_start __mmu_notifier_invalidate_range_start range=$arg1:x64 mm=range->mm:x64 start=range->start:x64 end=range->end:x64 flags=range->flags:u32 event=range->event:u32',
    );
    assert.equal(line(set, 'mn_inv_start_ret'), 'f:kprobes/mn_inv_start_ret __mmu_notifier_invalidate_range_start%return ret=$retval:s32');
    assert.equal(
      line(set, 'kvm_mn_inv_end'),
      'f:kprobes/kvm_mn_inv_end kvm_mmu_notifier_invalidate_range_end mn=$arg1:x64 range=$arg2:x64 mm=range->mm:x64 start=range->start:x64 end=range->end:x64 flags=range->flags:u32 event=range->event:u32',
    );
    assert.equal(line(set, 'mn_inv_secondary_tlbs'), 'f:kprobes/mn_inv_secondary_tlbs __mmu_notifier_arch_invalidate_secondary_tlbs mm=$arg1:x64 start=$arg2:x64 end=$arg3:x64');
    assert.ok(set.definitions.every((d) => d.startsWith('f:kprobes/')));
    assert.doesNotMatch(text(set), /\+\d+\(|%di|r10:/);
    // The same names on arm64: BTF syntax does not depend on registers.
    assert.deepEqual(generateProbes({ kernel: '6.12', arch: 'arm64', syntax: 'btf' }).definitions, set.definitions);
  });

  test('--syntax btf is refused for kernels that reject BTF arguments (6.1)', () => {
    assert.throws(() => generateProbes({ kernel: KERNEL_61, syntax: 'btf' }), (err: Error) => {
      assert.ok(err instanceof ProbeOptionError);
      assert.match(err.message, /--syntax btf needs .* kernel 6\.1\.0-56-amd64 is older: use --syntax offsets/);
      return true;
    });
  });

  test('bad options are refused with clear messages', () => {
    assert.throws(() => generateProbes({ kernel: KERNEL_61, arch: 'sparc64' }), /unknown --arch "sparc64": use x86_64 or arm64/);
    assert.throws(() => generateProbes({ kernel: KERNEL_61, syntax: 'dwarf' }), /unknown --syntax "dwarf"/);
    assert.throws(() => generateProbes({ kernel: 'banana' }), /cannot read kernel version "banana"/);
    assert.throws(() => generateProbes({ kernel: KERNEL_61, btf: Buffer.from('not btf') }), /not a BTF file: bad magic/);
  });

  test('tracepoints and the trigger', () => {
    const set = generateProbes({ kernel: KERNEL_61, arch: 'x86_64' });
    assert.deepEqual(set.tracepoints.map((t) => t.spec), ['oom:*', 'kvm:kvm_unmap_hva_range', 'kmem:kmalloc', 'mmap_lock:*', 'tlb:tlb_flush', 'sched:sched_process_exit']);
    assert.deepEqual(set.triggers, [{ event: 'kprobes/mn_inv_start', command: 'stacktrace' }]);
  });
});

describe('kprobe_events grammar', () => {
  const matrix: Array<{ kernel: string; arch: Arch; syntax: ProbeSyntax }> = [];
  for (const kernel of ['4.9.0', '4.19.0', '5.0.0', '5.4.0', '5.10.0', KERNEL_61, '6.3.0', '6.6.0', '6.12.38+deb13-amd64']) {
    for (const arch of ['x86_64', 'arm64'] as Arch[]) {
      matrix.push({ kernel, arch, syntax: 'offsets' });
      if (parseKernelVersion(kernel).major >= 6 && parseKernelVersion(kernel).minor >= 6) matrix.push({ kernel, arch, syntax: 'btf' });
    }
  }

  test('every generated definition and removal line passes', () => {
    let n = 0;
    for (const m of matrix) {
      const set = generateProbes(m);
      for (const d of [...set.definitions, ...set.probes.map((p) => `-:${set.group}/${p.event}`)]) {
        const r = checkProbeLine(d, { arch: m.arch, btfArgs: m.syntax === 'btf' });
        assert.ok(r.ok, `${m.kernel} ${m.arch} ${m.syntax}: ${d}\n${r.ok ? '' : r.error}`);
        n++;
      }
    }
    assert.ok(n > 300);
    const withBtf = generateProbes({ kernel: KERNEL_61, btf: btf61 });
    for (const c of checkProbeText(text(withBtf), { arch: 'x86_64', btfArgs: false })) assert.ok(c.result.ok, c.text);
  });

  test('the real 6.1 file passes, and its parts parse as the kernel reads them', () => {
    const checks = checkProbeText(fixture61, { arch: 'x86_64', btfArgs: false, fprobes: false });
    assert.equal(checks.length, 13);
    for (const c of checks) assert.ok(c.result.ok, `line ${c.line}: ${c.result.ok ? '' : c.result.error}`);
    const r = checkProbeLine(fixture61.split('\n')[1]);
    assert.ok(r.ok);
    assert.equal(r.parsed.kind, 'kretprobe');
    assert.equal(r.parsed.maxactive, 10);
    assert.equal(r.parsed.group, 'kprobes');
    assert.equal(r.parsed.event, 'mn_inv_start_ret');
    assert.equal(r.parsed.symbol, '__mmu_notifier_invalidate_range_start');
    assert.deepEqual(r.parsed.args, [{ text: 'ret=$retval:s32', name: 'ret', fetch: '$retval', type: 's32' }]);
  });

  test('documented forms that we do not generate also pass', () => {
    const good = [
      'p:myprobe do_sys_open dfd=%ax filename=%dx flags=%cx mode=+4($stack)',
      'r:myretprobe do_sys_open $retval',
      '-:myprobe',
      '-:kprobes/mn_inv_start',
      'p do_sys_open',
      'p:grp/ do_sys_open',
      'p:grp/ev vfs_read+0x10 name=+0(+8(%di)):string',
      'p:ev 0xffffffff81000000',
      'p:ev ext4:ext4_sync_fs arg=%di',
      'p:ev vfs_read+0%return ret=$retval:x32',
      'p:ev vfs_read buf=+0(%si):x8[16] b=+8(%di):b3@4/32 c=\\1234 s=\\"hello" t=@jiffies u=@jiffies+8 v=$comm w=$stack3 x=-8(%sp):s64 y=+u0(%si):ustring z=$arg2:symbol',
      'f:fprobes/ev vfs_read $arg*',
      'f vfs_read count pos',
      'f10:ev vfs_read%return ret=$retval:s64 n=$retval->f_count',
      'f:ev sched_fork prev_pid=p->pid comm=p->comm:string a=foo.bar->baz',
    ];
    for (const g of good) {
      const r = checkProbeLine(g, { arch: 'x86_64' });
      assert.ok(r.ok, `${g}\n${r.ok ? '' : r.error}`);
    }
  });

  test('deliberately bad lines fail, each with its reason', () => {
    const bad: Array<[string, RegExp]> = [
      ['q:kprobes/x do_sys_open', /unknown probe type/],
      ['p:kprobes/9bad do_sys_open', /bad event name "9bad"/],
      ['p:kprobes/mn-inv do_sys_open', /bad event name "mn-inv"/],
      ['p:a/b/c do_sys_open', /more than one '\/'/],
      ['p:kprobes/x', /needs a probe point/],
      ['p5:kprobes/x do_sys_open', /MAXACTIVE is only for return probes/],
      ['r5000:kprobes/x do_sys_open', /above the kernel's limit of 4096/],
      ['r:kprobes/x do_sys_open+8', /return probe must be on the function entry/],
      ['p:kprobes/x do_sys_open ret=$retval', /\$retval is only for return probes/],
      ['p:kprobes/x do_sys_open+4 a=$arg1', /\$argN is only for probes on a function entry/],
      ['p:kprobes/x do_sys_open a=%zz9', /unknown register "%zz9" on x86_64/],
      ['p:kprobes/x do_sys_open a=%x0', /unknown register "%x0" on x86_64/],
      ['p:kprobes/x do_sys_open a=+8(%di:x64', /bad dereference/],
      ['p:kprobes/x do_sys_open a=+8(%di):x128', /unknown type "x128"/],
      ['p:kprobes/x do_sys_open a=%di:x8[4]', /arrays apply to memory fetches only/],
      ['p:kprobes/x do_sys_open a=+0(%di):x8[64]', /array length must be 1..63/],
      ['p:kprobes/x do_sys_open a=+0(%di):b9@28/32', /does not fit its container/],
      ['p:kprobes/x do_sys_open a=%di:string', /is read from memory/],
      ['p:kprobes/x do_sys_open a=$comm:u32', /\$comm is a string/],
      ['p:kprobes/x do_sys_open a=%di b=%si a=%dx', /argument name "a" is used twice/],
      ['p:kprobes/x do_sys_open common_pid=%di', /reserved by the kernel/],
      ['p:kprobes/x do_sys_open 1a=%di', /bad argument name "1a"/],
      ['p:kprobes/x do_sys_open a=$foo', /unknown variable "\$foo"/],
      ['p:kprobes/x do_sys_open a=\\xyz', /bad immediate/],
      ['p:kprobes/x do_sys_open a=%di:', /empty type/],
      ['r10:kprobes/x do_sys_open%return', /r is already a return probe/],
      ['f:kprobes/x vfs_read+4', /no \+offs/],
      ['f:kprobes/x ext4:vfs_read', /plain function name/],
      ['f5:kprobes/x vfs_read', /only for the function exit/],
      ['-:kprobes/x do_sys_open', /takes nothing after the event/],
      ['', /empty line/],
    ];
    for (const [l, why] of bad) {
      const r = checkProbeLine(l, { arch: 'x86_64' });
      assert.equal(r.ok, false, `should fail: ${l}`);
      if (!r.ok) assert.match(r.error, why, l);
    }
    // 6.1 does not take BTF names or fprobes.
    const old = { arch: 'x86_64' as const, btfArgs: false, fprobes: false };
    const r1 = checkProbeLine('p:kprobes/mn_inv_start __mmu_notifier_invalidate_range_start start=range->start', old);
    assert.ok(!r1.ok && /BTF/.test(r1.error));
    const r2 = checkProbeLine('f:kprobes/mn_inv_start __mmu_notifier_invalidate_range_start', old);
    assert.ok(!r2.ok && /fprobe/.test(r2.error));
    const r3 = checkProbeLine(`p:kprobes/x do_sys_open ${Array.from({ length: 129 }, (_, i) => `a${i}=%di`).join(' ')}`);
    assert.ok(!r3.ok && /at most 128/.test(r3.error));
  });
});

describe('renderers', () => {
  const set61 = generateProbes({ kernel: KERNEL_61, arch: 'x86_64' });

  test('kprobe_events is the definitions, one per line', () => {
    assert.equal(renderProbes('kprobe_events', set61), fixture61);
  });

  test('trace-cmd: define, record with the trigger, report, remove', (t) => {
    const out = renderProbes('trace-cmd', set61, { command: ['./kvmnotif', 'baseline', 'a b'] });
    for (const d of set61.definitions) assert.ok(out.includes(`\techo '${d}'`), d);
    assert.match(out, /^\} >>"\$T\/kprobe_events"$/m);
    assert.match(
      out,
      /^trace-cmd record -b 32768 -e kprobes -e kprobes:mn_inv_start -R stacktrace -e oom -e kvm:kvm_unmap_hva_range -e kmem:kmalloc -e mmap_lock -e tlb:tlb_flush -e sched:sched_process_exit -- \.\/kvmnotif baseline 'a b'$/m,
    );
    assert.match(out, /^trace-cmd report > trace-cmd-report\.txt$/m);
    assert.match(out, /^\techo '-:kprobes\/oom_reap_task_mm'$/m);
    assert.doesNotMatch(renderProbes('trace-cmd', set61), / -- /, 'no command: record until Ctrl-C');
    shellcheck(out, t);
  });

  test('perf-probe: our names in group probe, then perf record and perf script', (t) => {
    const out = renderProbes('perf-probe', set61);
    assert.match(out, /^perf probe -a 'probe:mn_inv_start=__mmu_notifier_invalidate_range_start range=%di:x64 mm=\+8\(%di\):x64 start=\+16\(%di\):x64 end=\+24\(%di\):x64 flags=\+32\(%di\):u32 event=\+36\(%di\):u32'$/m);
    assert.match(out, /^perf probe -a 'probe:mn_inv_start_ret=__mmu_notifier_invalidate_range_start%return ret=\$retval:s32'$/m);
    assert.match(out, /^perf record -a -m 1024 -e 'probe:\*' -e 'oom:\*' -e kvm:kvm_unmap_hva_range -e kmem:kmalloc -e 'mmap_lock:\*' -e tlb:tlb_flush -e sched:sched_process_exit$/m);
    assert.match(out, /^perf script > perf-script\.txt$/m);
    assert.match(out, /^perf probe -d probe:mn_inv_end$/m);
    assert.equal((out.match(/^perf probe -a /gm) ?? []).length, set61.probes.length);
    const btfOut = renderProbes('perf-probe', generateProbes({ kernel: '6.12', arch: 'x86_64', syntax: 'btf' }));
    assert.match(btfOut, /'probe:mn_inv_start=__mmu_notifier_invalidate_range_start range=range:x64 mm=range->mm:x64 start=range->start:x64/);
    shellcheck(out, t);
  });

  test('script: shellcheck clean, traps, buffer, saved files', (t) => {
    const out = renderProbes('script', set61);
    assert.ok(out.startsWith('#!/bin/sh\n'));
    assert.match(out, /^trap cleanup EXIT$/m);
    assert.match(out, /^trap on_signal INT TERM HUP$/m);
    assert.match(out, /buffer_size_kb "\$BUF_KB"/);
    assert.match(out, /mount -t tracefs nodev \/sys\/kernel\/tracing/);
    assert.match(out, /^\tadd_trigger kprobes\/mn_inv_start stacktrace$/m);
    for (const f of ['trace.txt', 'kprobe_events.txt', 'trace_options.txt', 'set_event.txt', 'trace_clock.txt', 'uname.txt', 'MANIFEST', 'stats-cpu$n.txt']) {
      assert.ok(out.includes(f), f);
    }
    assert.ok(out.includes(`MNTRACE_VERSION=${mntraceVersion}`));
    shellcheck(out, t);
    shellcheck(renderProbes('script', generateProbes({ kernel: '6.12', arch: 'arm64', syntax: 'btf' }), { command: ['sh', '-c', 'echo "$HOME"'] }), t);
  });
});

describe('the capture script, run against a fake tracefs', () => {
  function fakeTracefs(withLeftover: boolean): { root: string; tracefs: string } {
    const root = mkdtempSync(join(tmpdir(), 'mntrace-probes-'));
    const T = join(root, 'tracing');
    const w = (rel: string, content: string): void => {
      mkdirSync(join(T, rel, '..'), { recursive: true });
      writeFileSync(join(T, rel), content);
    };
    w('trace', '# tracer: nop\n');
    w('kprobe_events', '');
    w('tracing_on', '1\n');
    w('buffer_size_kb', '1408\n');
    w('trace_clock', '[local] global counter uptime perf mono mono_raw boot\n');
    w('trace_options', 'print-parent\nnosym-offset\n');
    w('set_event', '');
    w('kprobe_profile', '');
    w('per_cpu/cpu0/stats', 'entries: 3\noverrun: 0\ncommit overrun: 0\nbytes: 120\ndropped events: 0\nread events: 0\n');
    w('per_cpu/cpu1/stats', 'entries: 9\noverrun: 5\ncommit overrun: 0\nbytes: 360\ndropped events: 0\nread events: 0\n');
    for (const e of ['oom', 'kvm/kvm_unmap_hva_range', 'kmem/kmalloc', 'mmap_lock', 'tlb/tlb_flush', 'sched/sched_process_exit']) w(`events/${e}/enable`, '0\n');
    if (withLeftover) {
      w('events/kprobes/mn_inv_start/enable', '1\n');
      w('events/kprobes/mn_inv_start/trigger', '# Available triggers:\n');
    }
    return { root, tracefs: T };
  }

  function writeScript(root: string): string {
    const path = join(root, 'capture.sh');
    writeFileSync(path, renderProbes('script', generateProbes({ kernel: KERNEL_61, arch: 'x86_64' }), { bufferKb: 4096 }));
    return path;
  }

  test('runs a command, saves the capture, removes its probes', () => {
    const { root, tracefs } = fakeTracefs(true);
    try {
      const script = writeScript(root);
      const out = join(root, 'out');
      const r = spawnSync('sh', [script, '-o', out, '-c', 'global', '--', 'sh', '-c', 'echo "  kvmnotif-147 [001] 6.3: mn_inv_start: fake" >> "$MNTRACE_TRACEFS/trace"; exit 3'], {
        env: { ...process.env, MNTRACE_TRACEFS: tracefs },
        encoding: 'utf8',
      });
      assert.equal(r.status, 3, `the command's exit status comes back\n${r.stderr}`);
      const read = (rel: string): string => readFileSync(join(tracefs, rel), 'utf8');
      const defs = read('kprobe_events').trimEnd().split('\n');
      const fixtureLines = fixture61.trimEnd().split('\n');
      assert.equal(defs[0], '-:kprobes/mn_inv_start', 'the left-over probe is removed first');
      assert.deepEqual(defs.slice(1, 14), fixtureLines);
      assert.deepEqual(defs.slice(14), fixtureLines.map((l) => `-:kprobes/${l.split(' ')[0].split('/')[1]}`));
      assert.equal(read('tracing_on'), '1\n', 'tracing_on restored');
      assert.equal(read('buffer_size_kb'), '1408\n', 'buffer size restored');
      assert.equal(read('trace_clock'), 'local\n', 'trace clock restored');
      assert.equal(read('events/oom/enable'), '0\n');
      assert.equal(read('events/kprobes/mn_inv_start/trigger'), '!stacktrace\n', 'trigger removed');
      assert.equal(read('events/kprobes/mn_inv_start/enable'), '0\n');

      assert.match(readFileSync(join(out, 'trace.txt'), 'utf8'), /mn_inv_start: fake/);
      assert.equal(readFileSync(join(out, 'kprobe_events.txt'), 'utf8').split('\n')[1], fixtureLines[0]);
      assert.equal(readFileSync(join(out, 'trace_clock.txt'), 'utf8'), 'global\n');
      assert.match(readFileSync(join(out, 'stats-cpu1.txt'), 'utf8'), /overrun: 5/);
      for (const f of ['trace_options.txt', 'set_event.txt', 'uname.txt', 'stats-cpu0.txt', 'buffer_size_kb.txt', 'kprobe_profile.txt']) {
        assert.ok(existsSync(join(out, f)), f);
      }
      const manifest = readFileSync(join(out, 'MANIFEST'), 'utf8');
      assert.match(manifest, new RegExp(`^mntrace_version: ${mntraceVersion.replace(/\./g, '\\.')}$`, 'm'));
      assert.match(manifest, /^exit_status: 3$/m);
      assert.match(manifest, /^lost_events: cpu1:overrun=5,dropped=0$/m);
      assert.match(manifest, /^probes_defined: mn_inv_start mn_inv_start_ret /m);
      const desc = JSON.parse(readFileSync(join(out, 'mntrace-probes.json'), 'utf8'));
      assert.deepEqual(desc.definitions, fixtureLines);
      assert.equal(desc.eventValues[7].name, 'MMU_NOTIFY_EXCLUSIVE');
      assert.match(r.stderr, /ring buffer lost events/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a refused required probe stops the script, which still restores the tracing state', () => {
    const { root, tracefs } = fakeTracefs(false);
    try {
      const script = writeScript(root);
      // A directory where kprobe_events should be: every write to it fails, as a refused definition does.
      rmSync(join(tracefs, 'kprobe_events'));
      mkdirSync(join(tracefs, 'kprobe_events'));
      const r = spawnSync('sh', [script, '-o', join(root, 'out'), '--', 'true'], { env: { ...process.env, MNTRACE_TRACEFS: tracefs }, encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /error: the kernel refused the probe mn_inv_start: p:kprobes\/mn_inv_start __mmu_notifier_invalidate_range_start /);
      assert.equal(readFileSync(join(tracefs, 'tracing_on'), 'utf8'), '1\n');
      assert.equal(readFileSync(join(tracefs, 'buffer_size_kb'), 'utf8'), '1408\n');
      assert.ok(!existsSync(join(root, 'out', 'MANIFEST')));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('without a command it traces until interrupted, then saves and cleans up', async () => {
    const { root, tracefs } = fakeTracefs(false);
    try {
      const script = writeScript(root);
      const out = join(root, 'out');
      const child = spawn('sh', [script, '-o', out, '-S'], { env: { ...process.env, MNTRACE_TRACEFS: tracefs } });
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`script did not start tracing:\n${stderr}`)), 20000);
        child.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
          if (stderr.includes('press Ctrl-C')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 0, stderr);
      const defs = readFileSync(join(tracefs, 'kprobe_events'), 'utf8').trimEnd().split('\n');
      assert.equal(defs.length, 26);
      assert.ok(defs.slice(13).every((l) => l.startsWith('-:kprobes/')));
      assert.match(readFileSync(join(out, 'MANIFEST'), 'utf8'), /^command: \(none: traced until interrupted\)$/m);
      assert.match(readFileSync(join(out, 'MANIFEST'), 'utf8'), /^stack_traces: 0$/m);
      assert.match(stderr, /removed the probes and triggers/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('mntrace probes (command line)', () => {
  async function run(args: string[]): Promise<{ out: string; err: string; error?: Error; exitCode: number | undefined }> {
    const program = new Command();
    program.exitOverride();
    registerProbesCommand(program);
    let out = '';
    let err = '';
    const ow = process.stdout.write.bind(process.stdout);
    const ew = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    let error: Error | undefined;
    try {
      await program.parseAsync(['probes', ...args], { from: 'user' });
    } catch (e) {
      error = e as Error;
    } finally {
      process.stdout.write = ow;
      process.stderr.write = ew;
    }
    const exitCode = typeof process.exitCode === 'number' ? process.exitCode : undefined;
    process.exitCode = 0;
    return { out, err, error, exitCode };
  }

  test('prints the 6.1 definitions', async () => {
    const r = await run(['--kernel', KERNEL_61, '--arch', 'x86_64']);
    assert.equal(r.error, undefined);
    assert.equal(r.out, fixture61);
    const b = await run(['--kernel', KERNEL_61, '--arch', 'x86_64', '--btf', REAL_BTF]);
    assert.equal(b.out, fixture61);
  });

  test('usage errors: clear message, exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--kernel', KERNEL_61, '--arch', 'sparc'], /unknown --arch "sparc"/],
      [['--kernel', KERNEL_61, '--format', 'yaml'], /unknown --format "yaml"/],
      [['--kernel', KERNEL_61, '--syntax', 'btf'], /--syntax btf needs/],
      [['--kernel', 'x.y'], /cannot read kernel version/],
      [['--kernel', KERNEL_61, '--btf', '/nonexistent.btf'], /cannot read BTF file/],
      [['--kernel', KERNEL_61, '--buffer-kb', 'lots', '--format', 'script'], /--buffer-kb needs a positive number/],
      [['--kernel', KERNEL_61, '--', './workload'], /a command to trace applies to --format trace-cmd, perf-probe or script/],
    ];
    for (const [args, why] of cases) {
      const r = await run(args);
      assert.ok(r.error instanceof UsageError, `${args.join(' ')}: ${r.error}`);
      assert.match(r.error.message, why);
      assert.equal(r.exitCode, 2, args.join(' '));
      assert.equal(r.out, '');
    }
  });

  test('-o writes an executable script, a command after -- becomes its default', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mntrace-probes-cli-'));
    try {
      const file = join(dir, 'capture.sh');
      const r = await run(['--kernel', KERNEL_61, '--arch', 'x86_64', '--format', 'script', '-o', file, '--', './kvmnotif', 'baseline']);
      assert.equal(r.error, undefined, String(r.error));
      assert.equal(r.out, '');
      assert.match(r.err, /wrote .*capture\.sh/);
      assert.equal(statSync(file).mode & 0o111, 0o111);
      assert.match(readFileSync(file, 'utf8'), /^\tset -- \.\/kvmnotif baseline$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('runProbesCommand is usable without commander', () => {
    let out = '';
    const ow = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
    try {
      runProbesCommand([], { kernel: '6.12', arch: 'arm64', format: 'kprobe_events' });
    } finally {
      process.stdout.write = ow;
    }
    assert.match(out, /^p:kprobes\/mn_inv_start __mmu_notifier_invalidate_range_start range=%x0:x64 mm=\+0\(%x0\):x64/);
  });
});
