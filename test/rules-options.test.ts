/** Rule options are validated against each rule's JSON Schema through parseConfig; errors name the bad key. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import { ConfigError, parseConfig, ruleOptions } from '../src/config/config';
import { rules } from '../rules';
import { optionsSchema } from '../src/engine/types';

function rejects(options: Record<string, unknown>, id: string, ...words: string[]): void {
  assert.throws(
    () => parseConfig({ rules: { [id]: { options } } }, 'test.json'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      for (const w of words) assert.ok(err.message.includes(w), `"${err.message}" should mention ${w}`);
      return true;
    },
  );
}

describe('rule options', () => {
  it('every rule\'s defaults pass its own schema (ruleOptions returns them unchecked when the user gave none)', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    for (const r of rules) {
      const validate = ajv.compile(r.meta.schema ?? optionsSchema({}));
      assert.ok(validate(r.meta.defaultOptions ?? {}), `${r.meta.id}: ${ajv.errorsText(validate.errors)}`);
      assert.deepEqual(ruleOptions(r.meta.id, undefined), r.meta.defaultOptions ?? {});
      assert.deepEqual(ruleOptions(r.meta.id, {}), r.meta.defaultOptions ?? {});
    }
  });

  it('slow-invalidation', () => {
    assert.equal(parseConfig({ rules: { 'slow-invalidation': { options: { thresholdMs: 2.5, includeNonBlocking: true } } } }).rules?.['slow-invalidation'] !== undefined, true);
    rejects({ thresholdMs: 0 }, 'slow-invalidation', 'test.json', 'rules.slow-invalidation.options.thresholdMs', 'must be > 0');
    rejects({ thresholdMs: '10' }, 'slow-invalidation', 'rules.slow-invalidation.options.thresholdMs', 'must be number');
    rejects({ threshold: 10 }, 'slow-invalidation', 'rules.slow-invalidation.options', "must NOT have additional properties 'threshold'");
    rejects({ includeReleasedMm: 'yes' }, 'slow-invalidation', 'rules.slow-invalidation.options.includeReleasedMm', 'boolean');
  });

  it('device-fault-storm', () => {
    parseConfig({ rules: { 'device-fault-storm': { options: { threshold: 20, windowMs: 250, pageSize: 1, events: ['iommu:io_page_fault'] } } } });
    rejects({ threshold: 1.5 }, 'device-fault-storm', 'rules.device-fault-storm.options.threshold', 'must be integer');
    rejects({ windowMs: -1 }, 'device-fault-storm', 'rules.device-fault-storm.options.windowMs');
    rejects({ events: 'io_page_fault' }, 'device-fault-storm', 'rules.device-fault-storm.options.events', 'must be array');
    rejects({ events: [''] }, 'device-fault-storm', 'rules.device-fault-storm.options.events.0');
  });

  it('reclaim-alloc-in-invalidate', () => {
    parseConfig({ rules: { 'reclaim-alloc-in-invalidate': { options: { directReclaimBit: '0x400' } } } });
    rejects({ directReclaimBit: 1024 }, 'reclaim-alloc-in-invalidate', 'rules.reclaim-alloc-in-invalidate.options.directReclaimBit', 'must be string');
    rejects({ directReclaimBit: '1024' }, 'reclaim-alloc-in-invalidate', 'rules.reclaim-alloc-in-invalidate.options.directReclaimBit', 'must match pattern');
  });

  it('secondary-tlb-without-mm', () => {
    parseConfig({ rules: { 'secondary-tlb-without-mm': { options: { kernelThreads: ['^vhost-'], currentMmFrames: ['arch_tlbbatch_flush', 'flush_tlb_batched'] } } } });
    rejects({ kernelThreads: '^vhost-' }, 'secondary-tlb-without-mm', 'rules.secondary-tlb-without-mm.options.kernelThreads', 'must be array');
    rejects({ currentMmFrame: [] }, 'secondary-tlb-without-mm', "additional properties 'currentMmFrame'");
  });

  it('gup-fast-anon-exclusive-race', () => {
    parseConfig({ rules: { 'gup-fast-anon-exclusive-race': { options: { maxWindowUs: 50 } } } });
    rejects({ maxWindowUs: 0 }, 'gup-fast-anon-exclusive-race', 'rules.gup-fast-anon-exclusive-race.options.maxWindowUs', 'must be > 0');
  });

  it('rules without options reject any', () => {
    rejects({ anything: 1 }, 'interval-op-in-invalidate', 'rules.interval-op-in-invalidate.options', "additional properties 'anything'");
  });
});
