/**
 * The `/ws` protocol as an AsyncAPI 3.0 document, generated: the requests are the very JSON Schemas
 * the server validates with (../schema.ts — every command there is in the document, so a command
 * added to the schemas is documented without more ado), the error codes come from the catalog
 * (src/errors.ts), the answers and pushed events from ./answers.ts. `npm run asyncapi` writes it to
 * docs/asyncapi.json; the server serves the same at /asyncapi.json.
 */
import * as catalog from '../../errors.js'
import { PACKAGE_VERSION } from '../files.js'
import { validateEnvelope, validators } from '../schema.js'
import { ANSWER_FIELDS, EVENTS, RESPONSES } from './answers.js'

type Schema = Record<string, unknown>

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T
const channel = { $ref: '#/channels/ws' }
const message = (name: string) => ({ $ref: `#/channels/ws/messages/${name}` })

/** What each command does, for the reader (a command without a line gets a pointer to the README). */
const SUMMARIES: Record<string, string> = {
  list_devices: 'The pinpads the bridge can use: virtual ones and serial ports',
  initialize: "Claims a pinpad for the context and opens it (OPN, GIN; the EMV tables are synchronised)",
  status: "The context's status; always answered, even while another command runs",
  display_message: "Shows a text on the pinpad's display",
  process_payment: 'Reads a card on the pinpad (chip, contactless or magstripe, PIN) and answers with the card hash for the acquirer',
  finish_payment: "Completes the transaction on the chip with the acquirer's answer; owed after every process_payment",
  close: 'Closes the context: the pinpad gets CLO and is released',
  cancel: 'Aborts the payment or prompt in flight on the pinpad (CAN/EOT)',
  pinpad_menu: 'Asks the customer to pick an option on the pinpad (MNU, §3.3.13)',
  pinpad_input: 'Asks the customer to type digits on the pinpad under a fixed message (GCD, §3.3.8)',
  get_result: 'The answer recorded in the journal for a command_id, from any connection, also after a restart',
}

/** Every code of the catalog with its message template ("%s" stands for a value). */
export function errorCodes(): Array<{ code: string; message: string }> {
  const out = new Map<string, string>()
  for (const value of Object.values(catalog)) {
    if (typeof value !== 'function') continue
    let e: unknown
    try {
      e = new (value as unknown as new () => Error)()
    } catch {
      continue
    }
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('MPOS_ERR_') && !out.has(code)) out.set(code, (e as Error).message.replace(/%[sdjifoO]/g, '…'))
  }
  return [...out].sort(([a], [b]) => a.localeCompare(b)).map(([code, message]) => ({ code, message }))
}

export function asyncApiDocument(): Schema {
  const commands = Object.keys(validators)
  const envelope = clone(validateEnvelope.schema) as Schema
  const schemas: Schema = {
    // The envelope every request is checked against first (src/server/schema.ts).
    Envelope: envelope,
    ErrorCode: {
      type: 'string',
      description: 'A stable error code (src/errors.ts); `error` carries the message',
      oneOf: errorCodes().map(({ code, message }) => ({ const: code, description: message })),
    },
  }
  const messages: Schema = {}
  const operations: Schema = {}

  for (const command of commands) {
    // The command's own fields, exactly as its validator has them.
    const body = clone(validators[command as keyof typeof validators].schema) as Schema
    schemas[`${command}_fields`] = body
    messages[`${command}.request`] = {
      name: `${command}.request`,
      title: `${command} request`,
      summary: SUMMARIES[command] ?? `${command} (see the README)`,
      payload: {
        allOf: [{ $ref: '#/components/schemas/Envelope' }, { $ref: `#/components/schemas/${command}_fields` }, { type: 'object', properties: { command: { const: command } } }],
      },
    }
    const response = command in RESPONSES ? RESPONSES[command as keyof typeof RESPONSES] : { description: 'See the README' }
    messages[`${command}.answer`] = {
      name: `${command}.answer`,
      title: `${command} answer`,
      summary: `The answer to ${command} when it succeeded`,
      payload: {
        type: 'object',
        required: ['command', 'context', 'success'],
        properties: {
          command: { const: command },
          ...ANSWER_FIELDS,
          success: { const: true },
          ...(response ? { response } : {}),
        },
      },
    }
    operations[command] = {
      action: 'receive',
      channel,
      title: command,
      summary: SUMMARIES[command] ?? `${command} (see the README)`,
      messages: [message(`${command}.request`)],
      reply: { channel, messages: [message(`${command}.answer`), message('error.answer')] },
    }
  }

  messages['error.answer'] = {
    name: 'error.answer',
    title: 'error answer',
    summary: 'Any request that failed: bad input, out of order, busy, a pinpad or acquirer failure…',
    payload: {
      type: 'object',
      required: ['context', 'success', 'error', 'code'],
      properties: {
        command: { type: 'string', description: 'The command asked for, when the message named one' },
        ...ANSWER_FIELDS,
        success: { const: false },
        error: { type: 'string', description: 'What went wrong, in a sentence (never card data)' },
        code: { $ref: '#/components/schemas/ErrorCode' },
        response: { $ref: '#/components/schemas/PaymentResult' },
      },
    },
  }
  schemas.PaymentResult = RESPONSES.process_payment

  for (const [event, { summary, payload }] of Object.entries(EVENTS)) {
    messages[`${event}.event`] = { name: `${event}.event`, title: `${event} event`, summary, payload }
    operations[`${event}.event`] = { action: 'send', channel, title: event, summary, messages: [message(`${event}.event`)] }
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'mpos-bridge',
      version: PACKAGE_VERSION,
      description:
        'The JSON protocol a browser point-of-sale page speaks with mpos-bridge over a local WebSocket to take card payments on an ABECS pinpad. ' +
        'Requests carry `command`, optionally `context` and `command_id`, and the command\'s fields at the top level; each gets exactly one answer ' +
        '(`success` with `response`, or `error` with a stable `code`). Messages with an `event` field are pushed by the bridge. ' +
        'Generated from the schemas the server validates with (npm run asyncapi).',
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: '127.0.0.1:2000',
        protocol: 'ws',
        description: 'The bridge beside the till (the port is --port); pages from other origins than the allowed ones are refused (403). Subprotocol `mpos-bridge` is selected when offered.',
      },
    },
    channels: {
      ws: {
        address: '/ws',
        title: 'The bridge',
        description: 'One WebSocket connection per page; JSON text messages.',
        messages: Object.fromEntries(Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }])),
      },
    },
    operations,
    components: { schemas, messages },
  }
}

/** The document as the file docs/asyncapi.json holds it. */
export const asyncApiText = (): string => `${JSON.stringify(asyncApiDocument(), null, 2)}\n`
