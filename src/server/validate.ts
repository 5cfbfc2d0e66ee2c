/**
 * Turns one incoming WebSocket message into a request, or a clear protocol error. Nothing here
 * recurses into the message before its shape is measured (limits.ts), and nothing of it is
 * echoed back unless it is valid: an error answer is as small as any other.
 */
import type { Request } from '../../machines/protocol.js'
import type { ErrorValue } from '../../machines/types.js'
import { DEFAULT_SHAPE_LIMITS, preview, shapeViolation, type ShapeLimits } from './limits.js'
import { FIELDS, MAX_AMOUNT, describe, validateEnvelope, validators } from './schema.js'

export const DEFAULT_CONTEXT = 'default'

/** What an error answer may echo: only values that are themselves valid. */
export interface Echo {
  command?: string
  context: string
  command_id?: string | number
}

export type Parsed =
  | { ok: true; request: Request; context: string; command_id?: string | number }
  | ({ ok: false; error: ErrorValue } & Echo)

const bad = (code: string, message: string): ErrorValue => ({ code, message })

export function parseMessage(text: string, maxBytes: number, limits: ShapeLimits = DEFAULT_SHAPE_LIMITS): Parsed {
  if (Buffer.byteLength(text) > maxBytes) {
    return { ok: false, error: bad('MPOS_ERR_MESSAGE_TOO_LARGE', `Messages are limited to ${maxBytes} bytes`), context: DEFAULT_CONTEXT }
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return { ok: false, error: bad('MPOS_ERR_INVALID_JSON', 'The message is not valid JSON'), context: DEFAULT_CONTEXT }
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, error: bad('MPOS_ERR_INVALID_MESSAGE', 'The message must be a JSON object'), context: DEFAULT_CONTEXT }
  }
  const obj = data as Record<string, unknown>
  const echo = echoOf(obj)
  const violation = shapeViolation(obj, limits)
  if (violation) return { ok: false, error: bad('MPOS_ERR_MESSAGE_TOO_COMPLEX', `The message is too complex: ${violation}`), ...echo }
  if (obj.command === undefined) return { ok: false, error: bad('MPOS_ERR_MISSING_COMMAND', 'command is required'), ...echo }
  if (!validateEnvelope(obj)) {
    const unknown = typeof obj.command === 'string' && validateEnvelope.errors?.[0]?.instancePath === '/command'
    return {
      ok: false,
      error: unknown ? bad('MPOS_ERR_UNKNOWN_COMMAND', `Unknown command ${preview(obj.command)}`) : bad('MPOS_ERR_INVALID_FIELD', describe(validateEnvelope.errors, obj)),
      ...echo,
    }
  }
  const validate = validators[obj.command]
  if (!validate(obj)) {
    const first = validate.errors?.[0]
    const code = first?.instancePath === '/amount' && first.keyword === 'maximum' ? 'MPOS_ERR_AMOUNT_TOO_LARGE' : 'MPOS_ERR_INVALID_FIELD'
    const message =
      first?.instancePath === '/amount'
        ? `amount must be a positive integer number of cents, at most ${MAX_AMOUNT} (got ${preview((data as Record<string, unknown>).amount)})`
        : describe(validate.errors, obj)
    return { ok: false, error: bad(code, message), ...echo }
  }
  // Only the command's own fields travel on: unknown keys (`__proto__` included) stay behind.
  const request: Record<string, unknown> = { command: obj.command }
  for (const field of FIELDS[obj.command]) if (Object.hasOwn(obj, field)) request[field] = (data as Record<string, unknown>)[field]
  return {
    ok: true,
    request: request as unknown as Request,
    context: (obj.context as string | undefined) ?? DEFAULT_CONTEXT,
    ...(obj.command_id !== undefined ? { command_id: obj.command_id as string | number } : {}),
  }
}

/** The envelope fields an error answer carries: each only when valid (`context` falls back to `default`). */
function echoOf(obj: Record<string, unknown>): Echo {
  const valid = (key: 'context' | 'command_id') => Object.hasOwn(obj, key) && validateEnvelope({ command: 'status', [key]: obj[key] })
  const command = typeof obj.command === 'string' && obj.command.length <= 64 ? obj.command : undefined
  return {
    ...(command !== undefined ? { command } : {}),
    context: valid('context') ? (obj.context as string) : DEFAULT_CONTEXT,
    ...(valid('command_id') ? { command_id: obj.command_id as string | number } : {}),
  }
}
