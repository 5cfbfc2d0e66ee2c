/**
 * What an inspector (or /status) may see of a machine snapshot or event: card data never enters
 * the machines, and the encryption key, card references, the cardholder's name and what a customer
 * typed for pinpad_input are masked here as a second guard (the devtools inspector shows and
 * exports every event).
 */
import { CARD_DATA_FIELDS } from '../log.js'

const HIDDEN = new Set<string>([...CARD_DATA_FIELDS, 'cardRef', 'holderName', 'card_holder_name', 'cardHolderName'])

/** pinpad_input's answer (`{ value: "52998224725" }`) as it travels in events: digits under `value`. State values are names, never digits. */
const typedDigits = (key: string, v: unknown) => key === 'value' && typeof v === 'string' && /^[0-9]+$/.test(v)

export function sanitize(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth > 8) return '[nested]' // never passed through unexamined
  if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1))
  // Actor references and other class instances are shown by name only.
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    const id = (value as { id?: unknown }).id
    return typeof id === 'string' ? `[actor ${id}]` : `[${value.constructor?.name ?? 'object'}]`
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = HIDDEN.has(k) || typedDigits(k, v) ? '[hidden]' : sanitize(v, depth + 1)
  return out
}
