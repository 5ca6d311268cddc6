/**
 * JSON Schema validation (ajv) for the config, rule options, expectation
 * files and the probe catalog, with ajv itself loaded on first use: requiring
 * it costs about 35 ms, and a plain `check` (and its scan worker) validates nothing.
 */
import type Ajv from 'ajv';
import type { AnySchema, ErrorObject, ValidateFunction } from 'ajv';

const instances = new Map<boolean, Ajv>();

/**
 * Compile `schema` with all errors reported, in ajv's default strict mode,
 * or `lenient` (`strict: false`: keywords ajv does not know are tolerated, as in a rule's option schema).
 */
export function compileSchema<T = unknown>(schema: AnySchema, lenient = false): ValidateFunction<T> {
  let ajv = instances.get(lenient);
  if (ajv === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const AjvClass = (require('ajv') as typeof import('ajv')).default;
    ajv = new AjvClass(lenient ? { allErrors: true, strict: false } : { allErrors: true });
    instances.set(lenient, ajv);
  }
  return ajv.compile<T>(schema);
}

/** Human error text naming the key: `rules.unpaired-start.options.foo: must NOT have additional properties`. */
export function explainAjvErrors(errors: ErrorObject[] | null | undefined, root: string): string {
  return (errors ?? [])
    .map((e) => {
      const path = (root + e.instancePath.replace(/\//g, '.')).replace(/^\./, '');
      const extra = e.keyword === 'additionalProperties' ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'` : '';
      const allowed = e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
      return `${path || '(top level)'}: ${e.message}${extra}${allowed}`;
    })
    .join('; ');
}
