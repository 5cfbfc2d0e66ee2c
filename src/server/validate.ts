/** Turns one incoming WebSocket message into a request, or a clear protocol error. */
import type { Request } from '../../machines/protocol.js'
import type { ErrorValue } from '../../machines/types.js'
import { MAX_AMOUNT, describe, validateEnvelope, validators } from './schema.js'

export const DEFAULT_CONTEXT = 'default'

export type Parsed =
  | { ok: true; request: Request; context: string; command_id?: string | number }
  | { ok: false; error: ErrorValue; command?: string; context?: string; command_id?: string | number }

const bad = (code: string, message: string): ErrorValue => ({ code, message })

export function parseMessage(text: string, maxBytes: number): Parsed {
  if (Buffer.byteLength(text) > maxBytes) {
    return { ok: false, error: bad('MPOS_ERR_MESSAGE_TOO_LARGE', `Messages are limited to ${maxBytes} bytes`) }
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return { ok: false, error: bad('MPOS_ERR_INVALID_JSON', 'The message is not valid JSON') }
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, error: bad('MPOS_ERR_INVALID_MESSAGE', 'The message must be a JSON object') }
  }
  const obj = data as Record<string, unknown>
  // Echo what can be echoed, even on errors.
  const echo = {
    ...(typeof obj.command === 'string' ? { command: obj.command } : {}),
    ...(typeof obj.context === 'string' ? { context: obj.context } : {}),
    ...(typeof obj.command_id === 'string' || typeof obj.command_id === 'number' ? { command_id: obj.command_id } : {}),
  }
  if (obj.command === undefined) return { ok: false, error: bad('MPOS_ERR_MISSING_COMMAND', 'command is required'), ...echo }
  if (!validateEnvelope(obj)) {
    const unknown = typeof obj.command === 'string' && validateEnvelope.errors?.[0]?.instancePath === '/command'
    return {
      ok: false,
      error: unknown
        ? bad('MPOS_ERR_UNKNOWN_COMMAND', `Unknown command ${JSON.stringify(obj.command).slice(0, 40)}`)
        : bad('MPOS_ERR_INVALID_FIELD', describe(validateEnvelope.errors, obj)),
      ...echo,
    }
  }
  const validate = validators[obj.command]
  if (!validate(obj)) {
    const first = validate.errors?.[0]
    const code = first?.instancePath === '/amount' && first.keyword === 'maximum' ? 'MPOS_ERR_AMOUNT_TOO_LARGE' : 'MPOS_ERR_INVALID_FIELD'
    const message =
      first?.instancePath === '/amount'
        ? `amount must be a positive integer number of cents, at most ${MAX_AMOUNT} (got ${JSON.stringify((data as Record<string, unknown>).amount)?.slice(0, 40)})`
        : describe(validate.errors, obj)
    return { ok: false, error: bad(code, message), ...echo }
  }
  const { context, command_id, ...request } = obj
  return {
    ok: true,
    request: request as unknown as Request,
    context: (context as string | undefined) ?? DEFAULT_CONTEXT,
    ...(command_id !== undefined ? { command_id: command_id as string | number } : {}),
  }
}
