/**
 * What an inspector (or /status) may see of a machine snapshot: card data never enters the
 * machines, and the encryption key and card references are masked here as a second guard.
 */
const HIDDEN = new Set(['encryptionKey', 'encryption_key', 'cardRef', 'card_hash', 'cardHash'])

export function sanitize(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1))
  // Actor references and other class instances are shown by name only.
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    const id = (value as { id?: unknown }).id
    return typeof id === 'string' ? `[actor ${id}]` : `[${value.constructor?.name ?? 'object'}]`
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = HIDDEN.has(k) ? '[hidden]' : sanitize(v, depth + 1)
  return out
}
