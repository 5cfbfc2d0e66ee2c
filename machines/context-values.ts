/**
 * The context machine's data and the answers it builds (replies, refusals, status, pushed
 * events): plain functions of the context, kept apart from the machine's states.
 */
import type { AnyActorRef, AnyEventObject } from 'xstate'
import type { CommandName, Envelope, PushEvent, Reply, Request, StatusResponse } from './protocol.js'
import type { ErrorValue, PaymentResult } from './types.js'

export interface Running {
  envelope: Envelope
  replyTo: AnyActorRef
}

export type Outcome = { success: true; response?: unknown } | { success: false; error: ErrorValue }

/** What the last payment left to do before the next one. */
export type PaymentPhase = 'none' | 'needs-finish' | 'failed'

/** Where the context is; kept in the context because actions cannot read the state they enter. */
export type Stage = 'idle' | 'initializing' | 'ready' | 'paying' | 'settling' | 'finishing' | 'displaying' | 'closing'

export interface ContextContext {
  name: string
  stage: Stage
  devicesAvailable: number
  deviceId?: number
  encryptionKey?: string
  deviceState?: string
  running?: Running
  /** The payment's own request, answered when its result arrives (a cancel may run meanwhile). */
  payment?: Running
  phase: PaymentPhase
  sessions: AnyActorRef[]
  lastError?: ErrorValue
  /** finish_payment's outcome, answered once the pinpad is back to idle (card removed). */
  finishOutcome?: Outcome
  /** A failed payment's result, answered once the pinpad is back to idle (card removed). */
  paymentResult?: PaymentResult
  /** The last status event pushed (not pushed again while nothing changes). */
  lastStatus?: string
}

export interface ContextInput {
  name: string
  devicesAvailable?: number
  /** The session whose request created the context: attached from the start. */
  creator?: AnyActorRef
}

export type RequestOf<C extends CommandName> = Extract<Request, { command: C }>

/** Guard reference "the request is this command"; named guards keep the generated diagrams readable. */
export const error = (code: string, message: string): ErrorValue => ({ code, message })

/** What the context allows in each situation, for "not allowed now" errors. */
const ALLOWED: Record<string, CommandName[]> = {
  idle: ['initialize', 'status', 'list_devices', 'close'],
  ready: ['process_payment', 'display_message', 'status', 'list_devices', 'close'],
  'ready:needs-finish': ['finish_payment', 'cancel', 'status', 'list_devices', 'close'],
  'ready:failed': ['finish_payment', 'process_payment', 'display_message', 'status', 'list_devices', 'close'],
}

export function replyFor(context: ContextContext, envelope: Envelope, outcome: Outcome): AnyEventObject {
  const base = { id: envelope.id, context: context.name, command: envelope.request.command }
  const reply: Reply = outcome.success
    ? { ...base, success: true, ...(outcome.response !== undefined ? { response: outcome.response } : {}) }
    : { ...base, success: false, error: outcome.error }
  return { type: 'CONTEXT.REPLY', reply }
}

/** Refusal of a request: busy (naming what runs) or out of order (saying what is allowed now). */
export function refusal(context: ContextContext, command: CommandName): Outcome {
  const runningCommand = context.running?.envelope.request.command ?? context.payment?.envelope.request.command
  if (runningCommand) {
    return { success: false, error: error('MPOS_ERR_CONTEXT_BUSY', `${command} refused: ${runningCommand} is running in context "${context.name}"`) }
  }
  return {
    success: false,
    error: error('MPOS_ERR_COMMAND_OUT_OF_ORDER', `${command} is not allowed now in context "${context.name}"; allowed: ${allowedNow(context).join(', ')}`),
  }
}


/** process_payment's response: the payment's status (accepted, rejected, errored, canceled) and its data. */
export function paymentResponse(result: PaymentResult): Record<string, unknown> {
  const { error: err, ...rest } = result
  return { ...rest, ...(err && result.status !== 'accepted' ? { error: err.message, error_type: err.code } : {}) }
}

export function paymentReply(context: ContextContext, payment: Running, result: PaymentResult): AnyEventObject {
  return replyFor(context, payment.envelope, { success: true, response: paymentResponse(result) })
}

/**
 * The payment_status event. When the connection that asked for the payment has gone and another
 * one carries it on, the event also brings the whole result (card hash included): nobody else
 * would receive it.
 */
export function paymentStatus(context: ContextContext, result: PaymentResult): PushEvent {
  const orphan = context.payment !== undefined && !context.sessions.includes(context.payment.replyTo)
  return { event: 'payment_status', context: context.name, status: result.status, ...(orphan ? { result: paymentResponse(result) } : {}) }
}

export function statusOf(context: ContextContext): StatusResponse {
  const status: StatusResponse['status'] = context.stage === 'idle' ? 'idle' : context.stage === 'ready' ? 'initialized' : 'in_use'
  const running = context.running?.envelope.request.command ?? context.payment?.envelope.request.command
  return {
    status,
    connected_device_id: context.stage === 'idle' ? null : (context.deviceId ?? null),
    devices_available: context.devicesAvailable,
    available_devices: context.devicesAvailable,
    ...(context.deviceState ? { device_state: context.deviceState } : {}),
    ...(running ? { running_command: running } : {}),
    ...(context.lastError ? { last_error: context.lastError } : {}),
  }
}

function allowedNow(context: ContextContext): CommandName[] {
  if (context.stage === 'idle') return ALLOWED.idle!
  if (context.stage === 'ready') {
    if (context.phase === 'needs-finish') return ALLOWED['ready:needs-finish']!
    if (context.phase === 'failed') return ALLOWED['ready:failed']!
    return ALLOWED.ready!
  }
  return ['status', 'list_devices']
}
