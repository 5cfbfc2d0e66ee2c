/**
 * Turns one incoming WebSocket message into a request, or a clear protocol error. Nothing here
 * recurses into the message before its shape is measured (limits.ts), and nothing of it is
 * echoed back unless it is valid: an error answer is as small as any other.
 */
import type { Request } from '../../machines/protocol.js'
import { coded, type ErrorValue } from '../../machines/types.js'
import { DEFAULT_SHAPE_LIMITS, preview, shapeViolation, type ShapeLimits } from './limits.js'
import { FIELDS, MAX_AMOUNT, crossCheck, describe, validateEnvelope, validators } from './schema.js'
import { AmountTooLargeError, InvalidJsonError, InvalidMessageError, MessageTooComplexError, MessageTooLargeError, MissingCommandError, RequestFieldError, UnknownCommandError } from '../errors.js'

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

/** `bytes`: the message's size in UTF-8 when the caller has it (the socket's buffer), else measured. */
export function parseMessage(text: string, maxBytes: number, limits: ShapeLimits = DEFAULT_SHAPE_LIMITS, bytes: number = Buffer.byteLength(text)): Parsed {
  if (bytes > maxBytes) {
    return { ok: false, error: coded(new MessageTooLargeError(maxBytes)), context: DEFAULT_CONTEXT }
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return { ok: false, error: coded(new InvalidJsonError()), context: DEFAULT_CONTEXT }
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, error: coded(new InvalidMessageError('The message must be a JSON object')), context: DEFAULT_CONTEXT }
  }
  const obj = data as Record<string, unknown>
  // The echo of an error answer is worked out only for an error: a valid message never needs it.
  const violation = shapeViolation(obj, limits)
  if (violation) return { ok: false, error: coded(new MessageTooComplexError(violation)), ...echoOf(obj) }
  if (obj.command === undefined) return { ok: false, error: coded(new MissingCommandError()), ...echoOf(obj) }
  if (!validateEnvelope(obj)) {
    // Read before echoOf, which runs the envelope's validator again.
    const unknown = typeof obj.command === 'string' && validateEnvelope.errors?.[0]?.instancePath === '/command'
    const error = unknown ? coded(new UnknownCommandError(preview(obj.command))) : coded(new RequestFieldError(describe(validateEnvelope.errors, obj)))
    return { ok: false, error, ...echoOf(obj) }
  }
  const validate = validators[obj.command]
  if (!validate(obj)) {
    const first = validate.errors?.[0]
    const message =
      first?.instancePath === '/amount'
        ? `amount must be a positive integer number of cents, at most ${MAX_AMOUNT} (got ${preview((data as Record<string, unknown>).amount)})`
        : describe(validate.errors, obj)
    const tooLarge = first?.instancePath === '/amount' && first.keyword === 'maximum'
    return { ok: false, error: coded(tooLarge ? new AmountTooLargeError(message) : new RequestFieldError(message)), ...echoOf(obj) }
  }
  const conflict = crossCheck(obj.command, obj)
  if (conflict) return { ok: false, error: coded(new RequestFieldError(conflict)), ...echoOf(obj) }
  // Only the command's own fields travel on: unknown keys (`__proto__` included) stay behind.
  const request: Record<string, unknown> = { command: obj.command }
  for (const field of FIELDS[obj.command]) if (Object.hasOwn(obj, field)) request[field] = (data as Record<string, unknown>)[field]
  const parsed: Parsed = { ok: true, request: request as unknown as Request, context: (obj.context as string | undefined) ?? DEFAULT_CONTEXT }
  if (obj.command_id !== undefined) parsed.command_id = obj.command_id as string | number
  return parsed
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
