/**
 * The context machine's data and the answers it builds (replies, refusals, status, pushed
 * events): plain functions of the context and of its snapshot, kept apart from its states.
 */
import type { AnyActorRef, AnyMachineSnapshot } from 'xstate'
import { deviceStep } from './device.machine.js'
import type { CommandName, Envelope, PushEvent, Reply, Request, StatusResponse } from './protocol.js'
import { coded, type ErrorValue, type PaymentResult } from './types.js'
import { CommandOutOfOrderError, ContextBusyError, NotSupportedError, PinpadFinishingError } from '../src/errors.js'

import type { BridgeRef, SessionRef } from './refs.js'
export type { SessionRef }

/** What a context sends to a session. */
export type ReplyEvent = { type: 'CONTEXT.REPLY'; reply: Reply }
export type SessionBound = ReplyEvent | { type: 'PUSH'; event: PushEvent }

export interface Running {
  envelope: Envelope
  replyTo: SessionRef
}

export type Outcome = { success: true; response?: unknown } | { success: false; error: ErrorValue }

export interface ContextContext {
  name: string
  devicesAvailable: number
  /** The bridge (claims and releases pinpads, forgets ended contexts). */
  bridge: BridgeRef
  deviceId?: number
  /** The request that runs now (initialize, finish_payment, display_message, pinpad_menu, pinpad_input, close). */
  running?: Running
  /** The payment's own request, answered when its result arrives (a cancel may run meanwhile). */
  payment?: Running
  sessions: SessionRef[]
  lastError?: ErrorValue
  /**
   * What runs, answered once the pinpad is back to idle: finish_payment's outcome (card removed),
   * a prompt's failure (its cancelled command confirmed with EOT). Never a prompt's answer.
   */
  settledOutcome?: Outcome
  /** The pinpad's ABECS version (from DEVICE.CONNECTED): prompts need an "Abecs" (2.x) pinpad. */
  pinpadSpec?: { version: string; abecs: boolean }
  /** A failed payment's result, answered once the pinpad is back to idle (card removed). */
  paymentResult?: PaymentResult
  /**
   * The status last pushed to the sessions (statusKey), not pushed again while nothing changes: a
   * memo only pushStatus reads and writes, updated in place so that a push costs no snapshot.
   */
  pushed: { status?: string }
}

export interface ContextInput {
  name: string
  bridge: BridgeRef
  devicesAvailable?: number
  /** The session whose request created the context: attached from the start. */
  creator?: SessionRef
}

export type RequestOf<C extends CommandName> = Extract<Request, { command: C }>


export function replyFor(context: ContextContext, envelope: Envelope, outcome: Outcome): ReplyEvent {
  const base = { id: envelope.id, context: context.name, command: envelope.request.command }
  const reply: Reply = outcome.success
    ? { ...base, success: true, ...(outcome.response !== undefined ? { response: outcome.response } : {}) }
    : { ...base, success: false, error: outcome.error }
  return { type: 'CONTEXT.REPLY', reply }
}

/** process_payment's reply: the result as a value; the wire renders it (error → error/error_type). */
export function paymentReply(context: ContextContext, payment: Running, result: PaymentResult): ReplyEvent {
  return replyFor(context, payment.envelope, { success: true, response: result })
}

/**
 * The payment_status event. When the connection that asked for the payment has gone and another
 * one carries it on, the event also brings the whole result (card hash included): nobody else
 * would receive it.
 */
export function paymentStatus(context: ContextContext, result: PaymentResult): PushEvent {
  const orphan = context.payment !== undefined && !context.sessions.includes(context.payment.replyTo)
  return { event: 'payment_status', context: context.name, status: result.status, ...(orphan ? { result } : {}) }
}

/** What the outside world calls the device's step (its `idle` shows a message but is ready). */
export function publicDeviceState(device: AnyMachineSnapshot | undefined): string | undefined {
  if (!device || device.status !== 'active') return undefined
  const step = deviceStep(device.value)
  return step === 'idle' ? 'ready' : step
}

/** The status word of the context's state: idle without a pinpad, initialized when ready for the next command. */
export function statusWord(snapshot: AnyMachineSnapshot): StatusResponse['status'] {
  const value = snapshot.value as string | { initialized?: { activity?: unknown } }
  if (value === 'idle' || value === 'ended') return 'idle'
  return typeof value === 'object' && value.initialized?.activity === 'ready' ? 'initialized' : 'in_use'
}

/** The command the context runs (or the payment it waits on). */
export const runningCommand = (context: ContextContext): CommandName | undefined =>
  context.running?.envelope.request.command ?? context.payment?.envelope.request.command

/** The device's public step under a context snapshot. */
export const deviceStateOf = (snapshot: AnyMachineSnapshot): string | undefined =>
  publicDeviceState((snapshot.children as Record<string, AnyActorRef | undefined>).device?.getSnapshot())

/** What a `status` event shows, as one string: a push is due when it differs from the last one. */
export const statusKey = (status: StatusResponse['status'], device?: string, running?: string): string => `${status} ${device ?? ''} ${running ?? ''}`

/**
 * The context's status, from its own state value and its device's. `context`: the data as it is
 * now, when an action runs before the snapshot is updated.
 */
export function statusOf(snapshot: AnyMachineSnapshot, context = snapshot.context as ContextContext): StatusResponse {
  const status = statusWord(snapshot)
  const idle = status === 'idle'
  const running = runningCommand(context)
  const device = deviceStateOf(snapshot)
  return {
    status,
    connected_device_id: idle ? null : (context.deviceId ?? null),
    devices_available: context.devicesAvailable,
    available_devices: context.devicesAvailable,
    ...(device ? { device_state: device } : {}),
    ...(running ? { running_command: running } : {}),
    ...(context.lastError ? { last_error: context.lastError } : {}),
  }
}

/** The `status` event pushed when the status changes. */
export function statusEvent(name: string, s: Pick<StatusResponse, 'status' | 'device_state' | 'running_command'>): Extract<PushEvent, { event: 'status' }> {
  return {
    event: 'status',
    context: name,
    status: s.status,
    ...(s.device_state ? { device_state: s.device_state } : {}),
    ...(s.running_command ? { running_command: s.running_command } : {}),
  }
}

/** The order commands are listed in "allowed now" messages. */
const LISTED: CommandName[] = ['initialize', 'finish_payment', 'cancel', 'process_payment', 'display_message', 'pinpad_menu', 'pinpad_input', 'status', 'list_devices', 'close']

/** Actions that answer a request without taking it (a refusal is not an allowed command). */
const ANSWER_ONLY = new Set(['attachSession', 'refuseWith'])

/**
 * The commands the context would take now: those its current states have a transition for that
 * does more than refuse (the machine's root refuses everything it gets). Read off the machine.
 */
export function allowedNow(snapshot: AnyMachineSnapshot): CommandName[] {
  const context = snapshot.context as ContextContext
  const root = snapshot.machine.root
  return LISTED.filter((command) => {
    if (command === 'status' || command === 'list_devices') return true
    const probe = { type: 'REQUEST', envelope: { id: 'probe', context: context.name, request: { command } as Request }, replyTo: undefined }
    const transitions = snapshot.machine.getTransitionData(snapshot as never, probe) as unknown as Array<{ source: unknown; target?: unknown[]; actions: Array<string | { type?: string }> }>
    const takes = (a: string | { type?: string }) => !ANSWER_ONLY.has(typeof a === 'string' ? a : (a.type ?? ''))
    return transitions.some((t) => t.source !== root && (t.target?.length || t.actions.some(takes)))
  })
}

/** Refusal of a request: busy (naming what runs) or out of order (saying what is allowed now). */
export function refusal(snapshot: AnyMachineSnapshot, command: CommandName): Outcome {
  const context = snapshot.context as ContextContext
  const runningCommand = context.running?.envelope.request.command ?? context.payment?.envelope.request.command
  if (runningCommand) {
    return { success: false, error: coded(new ContextBusyError(command, runningCommand, context.name)) }
  }
  if (snapshot.matches({ initialized: { activity: 'paying' } }) || snapshot.matches({ initialized: { activity: 'dropping' } })) {
    const device = publicDeviceState((snapshot.children as Record<string, AnyActorRef | undefined>).device?.getSnapshot())
    return {
      success: false,
      error: coded(new PinpadFinishingError(command, device ?? 'busy')),
    }
  }
  return {
    success: false,
    error: coded(new CommandOutOfOrderError(command, context.name, allowedNow(snapshot).join(', '))),
  }
}

/** The ABECS command behind each prompt, and where the specification has it. */
const PROMPT_COMMANDS: Partial<Record<CommandName, string>> = { pinpad_menu: 'MNU (§3.3.13)', pinpad_input: 'GCD (§3.3.8)' }

/** A prompt asked of a 1.x pinpad: MNU and GCD are "Abecs" commands, which BibComp (1.x) lacks (§3.1.3). */
export function promptsUnsupported(context: ContextContext, command: CommandName): ErrorValue {
  const spec = context.pinpadSpec?.version ?? 'unknown'
  return coded(new NotSupportedError(command, spec, `${PROMPT_COMMANDS[command] ?? command} is an "Abecs" command of ABECS 2.x (§3.1.3), which 1.x pinpads do not have`))
}
