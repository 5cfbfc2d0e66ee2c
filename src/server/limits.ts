/**
 * Untrusted values from `/ws` are measured before anything recursive touches them, and rendered
 * into errors and logs only through a bounded preview. Both walk with an explicit stack: a
 * message nested thousands of levels deep cannot exhaust the call stack.
 */

export interface ShapeLimits {
  /** Nesting of objects and arrays; the deepest legitimate message (`applications[].brand`) has 3. */
  maxDepth: number
  /** Keys of one object. */
  maxKeys: number
  /** Items of one array. */
  maxItems: number
  /** Characters of one string (keys included). */
  maxString: number
}

export const DEFAULT_SHAPE_LIMITS: ShapeLimits = { maxDepth: 8, maxKeys: 64, maxItems: 64, maxString: 4096 }

/** The first limit a parsed JSON value breaks, as a sentence, or undefined when it fits. */
export function shapeViolation(value: unknown, limits: ShapeLimits = DEFAULT_SHAPE_LIMITS): string | undefined {
  return flatFits(value, limits) ? undefined : walk(value, limits)
}

/**
 * Most messages are one object of short strings and numbers: true when `value` is such an object
 * within the limits (checked without allocating); false when it nests or breaks one, for the walk to say which.
 */
function flatFits(value: unknown, limits: ShapeLimits): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || limits.maxDepth < 1) return false
  let keys = 0
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    if (++keys > limits.maxKeys || key.length > limits.maxString) return false
    const v = (value as Record<string, unknown>)[key]
    if (typeof v === 'string') {
      if (v.length > limits.maxString) return false
    } else if (v !== null && typeof v === 'object') return false
  }
  return true
}

function walk(value: unknown, limits: ShapeLimits): string | undefined {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }]
  while (stack.length) {
    const { v, depth } = stack.pop()!
    if (typeof v === 'string') {
      if (v.length > limits.maxString) return `a string is longer than ${limits.maxString} characters`
      continue
    }
    if (v === null || typeof v !== 'object') continue
    if (depth >= limits.maxDepth) return `values are nested deeper than ${limits.maxDepth} levels`
    if (Array.isArray(v)) {
      if (v.length > limits.maxItems) return `an array has more than ${limits.maxItems} items`
      for (const item of v) stack.push({ v: item, depth: depth + 1 })
      continue
    }
    const keys = Object.keys(v)
    if (keys.length > limits.maxKeys) return `an object has more than ${limits.maxKeys} keys`
    for (const key of keys) {
      if (key.length > limits.maxString) return `a key is longer than ${limits.maxString} characters`
      stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1 })
    }
  }
  return undefined
}

/**
 * JSON-like text of an untrusted value, at most `max` characters (then "…"): `"abc"`, `10.5`,
 * `{"a":1}`, `[[[[…`. Never longer, whatever the value's size or depth.
 */
export function preview(value: unknown, max = 40): string {
  let out = ''
  // Work items: a value to render, or literal text (closing brackets, separators).
  const stack: Array<{ v: unknown } | string> = [{ v: value }]
  while (stack.length && out.length <= max) {
    const item = stack.pop()!
    if (typeof item === 'string') {
      out += item
      continue
    }
    const v = item.v
    if (typeof v === 'string') out += JSON.stringify(v.length > max ? v.slice(0, max + 1) : v)
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) out += String(v)
    else if (v === undefined) out += 'undefined'
    else if (typeof v !== 'object') out += typeof v
    else if (Array.isArray(v)) {
      out += '['
      stack.push(']')
      // Only what can still fit is queued: a huge array costs as little as a small one.
      const n = Math.min(v.length, max)
      for (let i = n - 1; i >= 0; i--) {
        stack.push({ v: v[i] })
        if (i > 0) stack.push(',')
      }
    } else {
      out += '{'
      stack.push('}')
      const keys: string[] = []
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue
        keys.push(k)
        if (keys.length > max) break
      }
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ v: (v as Record<string, unknown>)[keys[i]!] })
        stack.push(`${JSON.stringify(keys[i]!.slice(0, max + 1))}:`)
        if (i > 0) stack.push(',')
      }
    }
  }
  return out.length > max || stack.length ? `${out.slice(0, max)}…` : out
}

/** Per-connection limits of `/ws` (src/server/connection.ts), here so the server has them before it loads the connection code. */
export interface ConnectionLimits {
  /** Larger messages get MPOS_ERR_MESSAGE_TOO_LARGE (above 1 MiB the socket closes with 1009). */
  maxMessageBytes: number
  /** Answers waiting in the socket's buffer before a client that does not read is cut off (1008). */
  maxBufferedBytes: number
  /** Sustained messages per second; more get MPOS_ERR_RATE_LIMITED. */
  messagesPerSecond: number
  /** Messages that may arrive at once above the sustained rate; ten times as many refused faster than the rate cut the client off (1008). */
  burst: number
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxMessageBytes: 64 * 1024,
  maxBufferedBytes: 1024 * 1024,
  messagesPerSecond: 50,
  burst: 100,
}
