/**
 * JSON Schemas of what the bridge sends on `/ws` — each command's `response` and the pushed events —
 * for the AsyncAPI document (./document.ts). The requests' schemas are not here: the document takes
 * them from the validators themselves (../schema.ts). test/server/asyncapi.test.ts checks real
 * answers and events against these.
 */
import type { CommandName, PushEvent } from '../../../machines/protocol.js'

type Schema = Record<string, unknown>

const str = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) })
const int = (description?: string): Schema => ({ type: 'integer', ...(description ? { description } : {}) })
const bool = (description?: string): Schema => ({ type: 'boolean', ...(description ? { description } : {}) })
const object = (properties: Record<string, Schema>, required: string[] = [], description?: string): Schema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  ...(required.length ? { required } : {}),
})

export const COMMAND_ID: Schema = { anyOf: [{ type: 'string', maxLength: 128 }, { type: 'integer' }], description: "The request's command_id, echoed (an idempotency key per context)" }
const CONTEXT: Schema = str('The context (a named slot: one till, one pinpad); "default" when the request named none or an invalid one')

const DEVICE_STATES = 'the device machine\'s state, e.g. "ready", "awaitingCard", "onChip", "awaitingFinish" (see the README\'s state machines)'

/** A failure inside an answer (`last_error`): as the machines carry it. */
const ERROR_VALUE = object(
  { code: { $ref: '#/components/schemas/ErrorCode' }, message: str(), abecsStatus: int('The ABECS return code of the pinpad (§3.1.1), when it gave one') },
  ['code', 'message'],
)

export const PAYMENT_RESULT: Schema = object(
  {
    status: { type: 'string', enum: ['accepted', 'rejected', 'errored', 'canceled'] },
    card_hash: { type: ['string', 'null'], description: 'The card data encrypted for the acquirer ("<key id>_<base64>"); null once redacted (24 h after finish_payment)' },
    card_holder_name: str(),
    payment_method: { type: 'string', enum: ['credit_card', 'debit_card'] },
    is_online_pin: bool(),
    error_code: int('When not accepted: the ABECS return code (13 cancelled on the keypad, 12 no card, 79 blocked card…)'),
    error: str('When not accepted: why'),
    error_type: { $ref: '#/components/schemas/ErrorCode' },
  },
  ['status'],
  "process_payment's result",
)

const DEVICE = object({ id: int(), name: str(), manufacturer: str() }, ['id', 'name', 'manufacturer'])

/**
 * Each command's `response` on success. A command without an entry (one added to the schemas
 * later) is documented with a response of any shape until it gets one.
 */
export const RESPONSES: Partial<Record<CommandName, Schema | null>> = {
  list_devices: {
    type: 'array',
    items: object({ ...(DEVICE.properties as Record<string, Schema>), kind: { type: 'string', enum: ['virtual', 'serial'] }, path: str() }, ['id', 'name', 'manufacturer', 'kind', 'path']),
  },
  initialize: null,
  status: object(
    {
      status: { type: 'string', enum: ['idle', 'initialized', 'in_use'] },
      connected_device_id: { type: ['integer', 'null'] },
      devices_available: int(),
      available_devices: int('The same, under the name of the original documentation'),
      device_state: str(DEVICE_STATES),
      running_command: str('The command running now in this context'),
      last_error: ERROR_VALUE,
      awaiting_finish: {
        type: 'array',
        description: 'Payments with a card hash from an earlier run that never got their finish_payment',
        items: object({ context: str(), command_id: COMMAND_ID, amount: int(), at: { type: 'string', format: 'date-time' } }, ['context', 'command_id', 'at']),
      },
    },
    ['status', 'connected_device_id', 'devices_available', 'available_devices'],
  ),
  display_message: null,
  process_payment: PAYMENT_RESULT,
  finish_payment: object({ approved: bool(), card_declined: bool('The chip refused the acquirer\'s approval: reverse the authorization') }, ['approved']),
  close: null,
  cancel: null,
  pinpad_menu: object({ index: int('The option picked, from 0'), option: str('Its text') }, ['index', 'option']),
  pinpad_input: object({ value: { type: 'string', pattern: '^[0-9]*$', description: 'What the customer typed (never logged)' } }, ['value']),
  get_result: object(
    {
      target_command_id: COMMAND_ID,
      state: { type: 'string', enum: ['running', 'done', 'interrupted', 'unknown'] },
      command: str('The command recorded under that command_id'),
      answer: { type: 'object', description: 'The recorded answer, with replayed: true (when done)' },
    },
    ['target_command_id', 'state'],
  ),
  pair: object(
    {
      token: str('The pairing token (send it with authenticate on later connections); shown once, stored hashed'),
      origin: str('The Origin the token is bound to ("null" for a client that sends none)'),
    },
    ['token', 'origin'],
  ),
  authenticate: object({ origin: str('The Origin the token is bound to') }, ['origin']),
}

/** Every event the bridge pushes (a message with an `event` field). The mapped type makes a new event a compile error here. */
export const EVENTS: { [K in PushEvent['event']]: { summary: string; payload: Schema } } = {
  status: {
    summary: "A context's status changed",
    payload: object(
      { event: { const: 'status' }, context: CONTEXT, status: { type: 'string', enum: ['idle', 'initialized', 'in_use'] }, device_state: str(DEVICE_STATES), running_command: str() },
      ['event', 'context', 'status'],
    ),
  },
  pinpad_message: {
    summary: "What the pinpad's display shows the customer now",
    payload: object({ event: { const: 'pinpad_message' }, context: CONTEXT, message: str(), lines: { type: 'array', items: str() } }, ['event', 'context', 'message', 'lines']),
  },
  payment_status: {
    summary: "A payment's outcome; with result and command_id when the connection that asked had gone (given to the next one on the context)",
    payload: object(
      { event: { const: 'payment_status' }, context: CONTEXT, status: { type: 'string', enum: ['accepted', 'rejected', 'errored', 'canceled'] }, result: PAYMENT_RESULT, command_id: COMMAND_ID },
      ['event', 'context', 'status'],
    ),
  },
  device_added: {
    summary: 'A pinpad was plugged in (or a virtual one offered)',
    payload: object({ event: { const: 'device_added' }, device: DEVICE }, ['event', 'device']),
  },
  device_removed: {
    summary: 'A pinpad was unplugged',
    payload: object({ event: { const: 'device_removed' }, device: DEVICE }, ['event', 'device']),
  },
}

/** Fields every answer has besides `response` / `error`. */
export const ANSWER_FIELDS: Record<string, Schema> = {
  context: CONTEXT,
  command_id: COMMAND_ID,
  replayed: { const: true, description: 'The recorded answer of a command_id already done, sent again (the pinpad was not touched)' },
  redacted: { const: true, description: 'A replayed payment whose card hash and cardholder name were removed (24 h after its finish)' },
}
