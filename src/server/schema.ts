/**
 * JSON Schemas of the `/ws` requests (websocket-protocol.md, bridge-facts.md), checked with ajv.
 * Fields travel at the top level of the message, as the original client sends them.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { preview } from './limits.js'
import { GCD_PROMPTS } from '../abecs/gcd-messages.js'
import { MNU_MAX_OPTIONS } from '../abecs/commands/prompts.js'
import { compileOnFirstUse } from '../lazy-validator.js'

/** Largest amount accepted: R$ 10 000 000,00 (12 digits fit SPE_AMOUNT N12, but nobody pays that at a till). */
export const MAX_AMOUNT = 1_000_000_000

/** How long the customer may take to present a card and type the PIN (process_payment `timeout_milliseconds`). */
export const PAYMENT_TIMEOUT = { minimum: 5_000, maximum: 600_000 } as const

/** How long the customer may take to answer a prompt (pinpad_menu, pinpad_input `timeout_milliseconds`). */
export const PROMPT_TIMEOUT = { minimum: 1_000, maximum: 600_000 } as const

export const COMMANDS = [
  'list_devices',
  'initialize',
  'status',
  'display_message',
  'process_payment',
  'finish_payment',
  'close',
  'cancel',
  'pinpad_menu',
  'pinpad_input',
  'get_result',
  'pair',
  'authenticate',
] as const

/** ISO-8859-1 text without control characters: the "S" format of §1.3 that MNU's texts use. */
const LATIN1_TEXT = '^[\\u0020-\\u007e\\u00a0-\\u00ff]+$'
/** The same, with line breaks (SPE_DSPMSG breaks lines with CR, §3.1.3: a newline is sent as CR). */
const LATIN1_LINES = '^[\\u0020-\\u007e\\u00a0-\\u00ff\\n]+$'

const envelope = {
  type: 'object',
  required: ['command'],
  properties: {
    command: { type: 'string', enum: COMMANDS },
    // Names show in /status and logs: printable, no control characters.
    context: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$' },
    command_id: { anyOf: [{ type: 'string', maxLength: 128 }, { type: 'integer' }] },
  },
} as const

const paymentMethod = { type: 'string', enum: ['credit_card', 'debit_card'] } as const

const bodies: Record<(typeof COMMANDS)[number], object> = {
  list_devices: {},
  status: {},
  close: {},
  cancel: {},
  // Beyond the original protocol: the journal's answer for a command_id (src/server/journal-gate.ts).
  get_result: {
    required: ['target_command_id'],
    properties: { target_command_id: { anyOf: [{ type: 'string', maxLength: 128 }, { type: 'integer' }] } },
  },
  // Beyond the original protocol: pairing (src/server/pairing/). A code is 6 digits; a token, base64url.
  pair: {
    required: ['code'],
    properties: { code: { type: 'string', pattern: '^[0-9]{6}$' } },
  },
  authenticate: {
    required: ['token'],
    properties: { token: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' } },
  },
  initialize: {
    required: ['encryption_key'],
    properties: {
      encryption_key: { type: 'string', minLength: 1, maxLength: 256 },
      device_id: { type: 'integer', minimum: 1 },
      baud_rate: { type: 'integer', enum: [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] },
      simple_initialize: { type: 'boolean' },
      timeout_milliseconds: { type: 'integer', minimum: 100, maximum: 120000 },
      secure_session: { type: 'boolean' },
    },
  },
  display_message: {
    required: ['message'],
    properties: { message: { type: 'string', maxLength: 160 } },
  },
  process_payment: {
    required: ['amount'],
    properties: {
      amount: { type: 'integer', minimum: 1, maximum: MAX_AMOUNT },
      applications: {
        type: 'array',
        maxItems: 32,
        items: {
          type: 'object',
          required: ['brand', 'payment_method'],
          properties: { brand: { type: 'string', minLength: 1, maxLength: 32 }, payment_method: paymentMethod },
        },
      },
      magstripe_payment_method: paymentMethod,
      timeout_milliseconds: { type: 'integer', minimum: PAYMENT_TIMEOUT.minimum, maximum: PAYMENT_TIMEOUT.maximum },
    },
  },
  finish_payment: {
    required: ['success'],
    properties: {
      success: { type: 'boolean' },
      response_code: { type: 'string', pattern: '^[0-9A-Za-z]{2,4}$' },
      emv_data: { type: 'string', pattern: '^([0-9A-Fa-f]{2})*$', maxLength: 1024 },
    },
  },
  // MNU (§3.3.13, §3.1.3): at most 20 options of S..24, a title of S..128 (SPE_DSPMSG).
  pinpad_menu: {
    required: ['options'],
    properties: {
      title: { type: 'string', minLength: 1, maxLength: 128, pattern: LATIN1_LINES },
      options: { type: 'array', minItems: 1, maxItems: MNU_MAX_OPTIONS, items: { type: 'string', minLength: 1, maxLength: 24, pattern: LATIN1_TEXT } },
      timeout_milliseconds: { type: 'integer', minimum: PROMPT_TIMEOUT.minimum, maximum: PROMPT_TIMEOUT.maximum },
    },
  },
  // GCD (§3.3.8): a message of the fixed table by name, SPE_MINDIG/SPE_MAXDIG (X1, up to 32).
  pinpad_input: {
    required: ['prompt'],
    properties: {
      prompt: { type: 'string', enum: [...GCD_PROMPTS.keys()] },
      min_digits: { type: 'integer', minimum: 0, maximum: 32 },
      max_digits: { type: 'integer', minimum: 1, maximum: 32 },
      timeout_milliseconds: { type: 'integer', minimum: PROMPT_TIMEOUT.minimum, maximum: PROMPT_TIMEOUT.maximum },
    },
  },
}

let ajv: Ajv | undefined
const compiler = () => (ajv ??= new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, coerceTypes: false }))

export const validateEnvelope: ValidateFunction<{ command: (typeof COMMANDS)[number]; context?: string; command_id?: string | number }> =
  compileOnFirstUse(() => compiler().compile(envelope))

/** Each command's validator is compiled when that command first arrives. */
export const validators = Object.fromEntries(
  Object.entries(bodies).map(([command, body]) => [command, compileOnFirstUse(() => compiler().compile({ type: 'object', ...body }))]),
) as Record<(typeof COMMANDS)[number], ValidateFunction>

/** The fields each command takes (besides `command`, `context`, `command_id`): nothing else travels on. */
export const FIELDS = Object.fromEntries(
  Object.entries(bodies).map(([command, body]) => [command, Object.keys((body as { properties?: object }).properties ?? {})]),
) as Record<(typeof COMMANDS)[number], string[]>

/** What the schemas cannot say: relations between fields (a sentence, or undefined when fine). */
export function crossCheck(command: (typeof COMMANDS)[number], data: Record<string, unknown>): string | undefined {
  // §3.3.8: SPE_MAXDIG (32 when absent) must be at least SPE_MINDIG.
  if (command === 'pinpad_input' && typeof data.min_digits === 'number' && data.min_digits > ((data.max_digits as number | undefined) ?? 32)) {
    return `min_digits (${data.min_digits}) must not exceed max_digits (${(data.max_digits as number | undefined) ?? 32})`
  }
  return undefined
}

/** One readable sentence out of ajv's first error; the offending value only as a short preview. */
export function describe(errors: ErrorObject[] | null | undefined, data: unknown): string {
  const e = errors?.[0]
  if (!e) return 'invalid message'
  const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : (e.params as { missingProperty?: string }).missingProperty
  const value = e.instancePath ? e.instancePath.split('/').slice(1).reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], data) : undefined
  const got = value === undefined ? '' : ` (got ${preview(value)})`
  switch (e.keyword) {
    case 'required':
      return `${field} is required`
    case 'enum': {
      // A long list (GCD's prompt names) is named in part: an error stays a few hundred bytes.
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues
      const list = allowed.length > 10 ? `${allowed.slice(0, 8).join(', ')}… (${allowed.length} names, see the README)` : allowed.join(', ')
      return `${field} must be one of ${list}${got}`
    }
    case 'type':
      return `${field} must be ${e.params.type === 'integer' ? 'an integer' : `a ${e.params.type}`}${got}`
    case 'minimum':
    case 'maximum':
      return `${field} must be ${e.keyword === 'minimum' ? '≥' : '≤'} ${(e.params as { limit: number }).limit}${got}`
    default:
      return `${field ?? 'message'} ${e.message ?? 'is invalid'}${got}`
  }
}
