/**
 * The `/ws` wire format, in one place: replies and pushed events as the JSON the original clients
 * expect (websocket-protocol.md, bridge-facts.md), the one rendering of an error, and the
 * per-command figures (metrics, the log line) taken from each reply as it goes out.
 */
import type { Outgoing } from '../../machines/session.machine.js'
import type { ErrorValue, PaymentResult } from '../../machines/types.js'
import type { CommandName } from '../../machines/protocol.js'
import type { Logger } from '../log.js'
import type { BridgeMetrics } from './metrics.js'

/**
 * An error as the protocol shows it: `error` is the message the original client rejects with,
 * `code` is stable for programs. Inside a payment's response the code is `error_type` (the
 * original's field), next to the ABECS `error_code`.
 */
export const errorFields = (e: ErrorValue) => ({ error: e.message, code: e.code })
/** The HTTP routes' refusal body: the same error fields as a /ws answer. */
export const httpRefusal = (e: Error & { code: string }) => ({ success: false, ...errorFields(e) })

/** process_payment's response: the payment's status and data; a failure's error as error/error_type. */
export function paymentResponse(result: PaymentResult): Record<string, unknown> {
  const { error, ...rest } = result
  if (!error || result.status === 'accepted') return rest
  const { error: message, code } = errorFields(error)
  return { ...rest, error: message, error_type: code }
}

export function toWire(message: Outgoing): Record<string, unknown> {
  if (message.kind === 'event') {
    const e = message.event
    return e.event === 'payment_status' && e.result ? { ...e, result: paymentResponse(e.result as PaymentResult) } : { ...e }
  }
  const base = {
    command: message.command,
    context: message.context,
    ...(message.command_id !== undefined ? { command_id: message.command_id } : {}),
    success: message.success,
  }
  if (message.success) {
    if (message.response === undefined) return base
    const response = message.command === 'process_payment' ? paymentResponse(message.response as PaymentResult) : message.response
    return { ...base, response }
  }
  return { ...base, ...errorFields(message.error), ...(message.response !== undefined ? { response: message.response } : {}) }
}

/** The JSON text of responses, per response object: a query answers with the same object while nothing changes. */
const responseTexts = new WeakMap<object, string>()

/**
 * JSON.stringify(toWire(reply)) of a successful reply whose response is an object (not a payment),
 * byte for byte, with the response's text kept per object: a page polling `status` does not have
 * the same unchanged status serialized again for every poll.
 */
export function replyText(command: Exclude<CommandName, 'process_payment'>, context: string, commandId: string | number | undefined, response: object): string {
  let text = responseTexts.get(response)
  if (text === undefined) responseTexts.set(response, (text = JSON.stringify(response)))
  const id = commandId !== undefined ? `,"command_id":${JSON.stringify(commandId)}` : ''
  return `{"command":${JSON.stringify(command)},"context":${JSON.stringify(context)}${id},"success":true,"response":${text}}`
}

/** Queries: their lines are at debug (a page polling `status` would otherwise fill the log). */
const QUERIES: ReadonlySet<string> = new Set(['status', 'list_devices', 'get_result'])

/**
 * One log line and the metrics of a reply on its way out: outcome and duration, never card data.
 * The line is at info for every command but the queries, which log at debug.
 */
export function observeReply(message: Extract<Outgoing, { kind: 'reply' }>, now: number, metrics: BridgeMetrics, log: Logger, session: string): void {
  const durationMs = message.askedAt !== undefined ? now - message.askedAt : undefined
  const payment = message.command === 'process_payment' && message.success ? (message.response as PaymentResult | undefined)?.status : undefined
  metrics.commandDone(message.command, message.success ? 'success' : 'error')
  if (durationMs !== undefined) metrics.commandLatency(message.command, durationMs / 1000)
  if (payment) metrics.payments.inc({ status: payment })
  const level = QUERIES.has(message.command) ? 'debug' : 'info'
  if (!log.isLevelEnabled(level)) return
  log[level](
    {
      session,
      command: message.command,
      context: message.context,
      command_id: message.command_id,
      success: message.success,
      ...(message.success ? {} : { code: message.error.code }),
      ...(payment ? { status: payment } : {}),
      duration_ms: durationMs,
    },
    'command',
  )
}
