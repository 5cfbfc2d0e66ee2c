/**
 * An ajv validator compiled on its first use instead of when its module loads: compiling every
 * schema at start-up was a sixth of the bridge's cold start, most of it for messages that may
 * never come. It behaves as the compiled function does (`errors` after each call).
 */
import { createRequire } from 'node:module'
import type { Ajv, ValidateFunction } from 'ajv'

const require = createRequire(import.meta.url)

/**
 * ajv's class, its package loaded on the first call: a start that compiles no schema (`serve`,
 * until a message or a request needs one) does not load it at all. Ajv is CommonJS: the same
 * module as `import { Ajv } from 'ajv'`.
 */
export const loadAjv = (): typeof Ajv => (require('ajv') as typeof import('ajv')).Ajv

export function compileOnFirstUse<T = unknown>(compile: () => ValidateFunction<T>): ValidateFunction<T> {
  let compiled: ValidateFunction<T> | undefined
  const validate = ((data: unknown) => {
    compiled ??= compile()
    const valid = compiled(data)
    validate.errors = compiled.errors
    return valid
  }) as ValidateFunction<T>
  validate.errors = null
  // The schema itself (the AsyncAPI document is made from the validators' own schemas).
  Object.defineProperty(validate, 'schema', { get: () => (compiled ??= compile()).schema, enumerable: true })
  return validate
}
