/**
 * JSON Schemas of the `/ws` requests (websocket-protocol.md, bridge-facts.md), checked with ajv.
 * Fields travel at the top level of the message, as the original client sends them.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { preview } from './limits.js'

/** Largest amount accepted: R$ 10 000 000,00 (12 digits fit SPE_AMOUNT N12, but nobody pays that at a till). */
export const MAX_AMOUNT = 1_000_000_000

/** How long the customer may take to present a card and type the PIN (process_payment `timeout_milliseconds`). */
export const PAYMENT_TIMEOUT = { minimum: 5_000, maximum: 600_000 } as const

export const COMMANDS = ['list_devices', 'initialize', 'status', 'display_message', 'process_payment', 'finish_payment', 'close', 'cancel', 'get_result'] as const

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
  initialize: {
    required: ['encryption_key'],
    properties: {
      encryption_key: { type: 'string', minLength: 1, maxLength: 256 },
      device_id: { type: 'integer', minimum: 1 },
      baud_rate: { type: 'integer', enum: [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] },
      simple_initialize: { type: 'boolean' },
      timeout_milliseconds: { type: 'integer', minimum: 100, maximum: 120000 },
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
}

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, coerceTypes: false })

export const validateEnvelope: ValidateFunction<{ command: (typeof COMMANDS)[number]; context?: string; command_id?: string | number }> =
  ajv.compile(envelope)

export const validators = Object.fromEntries(
  Object.entries(bodies).map(([command, body]) => [command, ajv.compile({ type: 'object', ...body })]),
) as Record<(typeof COMMANDS)[number], ValidateFunction>

/** The fields each command takes (besides `command`, `context`, `command_id`): nothing else travels on. */
export const FIELDS = Object.fromEntries(
  Object.entries(bodies).map(([command, body]) => [command, Object.keys((body as { properties?: object }).properties ?? {})]),
) as Record<(typeof COMMANDS)[number], string[]>

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
    case 'enum':
      return `${field} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}${got}`
    case 'type':
      return `${field} must be ${e.params.type === 'integer' ? 'an integer' : `a ${e.params.type}`}${got}`
    case 'minimum':
    case 'maximum':
      return `${field} must be ${e.keyword === 'minimum' ? '≥' : '≤'} ${(e.params as { limit: number }).limit}${got}`
    default:
      return `${field ?? 'message'} ${e.message ?? 'is invalid'}${got}`
  }
}
