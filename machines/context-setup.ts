/**
 * The context machine's setup: its data and events, and the actions and guards its chart
 * (context.machine.ts) names. The answers these build are in context-values.ts.
 */
import { assign, enqueueActions, setup, type AnyActorRef, type AnyMachineSnapshot } from 'xstate'
import { deviceMachine, type DeviceEnd, type DeviceEvent, type DeviceNotice } from './device.machine.js'
import { JOURNALED_COMMANDS, type CommandName, type Envelope, type StatusResponse } from './protocol.js'
import type { BridgeEvent } from './bridge.machine.js'
import type { BridgeRef } from './refs.js'
import { coded, type ErrorValue, type PaymentResult } from './types.js'
import {
  paymentReply,
  paymentStatus,
  refusal,
  replyFor,
  deviceStateOf,
  runningCommand,
  statusEvent,
  statusKey,
  statusOf,
  statusWord,
  type ContextContext,
  type ContextInput,
  type Outcome,
  type RequestOf,
  type ReplyEvent,
  type SessionBound,
  type SessionRef,
} from './context-values.js'
import { ContextClosedError, DeviceDisconnectedError } from '../src/errors.js'

export type ContextEvent =
  | { type: 'REQUEST'; envelope: Envelope; replyTo: SessionRef }
  /** A connection went away (its session actor's id is `session:<sessionId>`). */
  | { type: 'SESSION.CLOSED'; sessionId: string }
  | { type: 'DEVICES.COUNT'; count: number }
  | { type: 'CLAIM.GRANTED'; deviceId: number }
  | { type: 'CLAIM.DENIED'; error: ErrorValue }
  /** Graceful shutdown: cancel what runs, close the pinpad. */
  | { type: 'SHUTDOWN' }
  | { type: 'xstate.done.actor.device'; output: DeviceEnd }
  /** The device actor failed (a bug): whatever it ran is lost, the pinpad is let go. */
  | { type: 'xstate.error.actor.device'; error: unknown }
  | DeviceNotice

const isSession = (ref: AnyActorRef, sessionId: string) => ref.id === `session:${sessionId}`

/** Why the device ended, as the error the context reports (undefined: closed as asked). */
export function endError(end: DeviceEnd): ErrorValue | undefined {
  switch (end.kind) {
    case 'closed':
      return end.error
    case 'connectFailed':
    case 'unresponsive':
      return end.error
    case 'lost':
      return coded(new DeviceDisconnectedError(`disconnected: ${end.reason}`))
  }
}

/** What an action's `enqueue` offers that answering needs. */
interface Enqueue {
  sendTo(to: SessionRef | BridgeRef, event: SessionBound | BridgeEvent): void
}

/**
 * An answer to a session; a journaled command's answer goes to the bridge as well, which has it
 * recorded (also when the session has gone: the page that comes back can still learn it).
 */
function answer(enqueue: Enqueue, context: ContextContext, to: SessionRef, envelope: Envelope, bound: ReplyEvent): void {
  enqueue.sendTo(to, bound)
  if (envelope.commandId !== undefined && JOURNALED_COMMANDS.has(envelope.request.command)) {
    enqueue.sendTo(context.bridge, { type: 'CONTEXT.ANSWERED', envelope, reply: bound.reply })
  }
}

export const deviceEnd = (event: unknown) => (event as { output: DeviceEnd }).output

export const contextSetup = setup({
  types: {
    context: {} as ContextContext,
    events: {} as ContextEvent,
    input: {} as ContextInput,
  },
  actors: { device: deviceMachine },
  actions: {
    // Assigns only for a session not yet attached: an assign costs a snapshot, and most requests come from one.
    attachSession: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'REQUEST' && !context.sessions.includes(event.replyTo)) enqueue.assign({ sessions: [...context.sessions, event.replyTo] })
    }),
    detachSession: assign({
      sessions: ({ context, event }) => (event.type === 'SESSION.CLOSED' ? context.sessions.filter((s) => !isSession(s, event.sessionId)) : context.sessions),
    }),
    startRunning: assign({
      running: ({ event }) => (event.type === 'REQUEST' ? { envelope: event.envelope, replyTo: event.replyTo } : undefined),
    }),
    startPayment: assign({
      payment: ({ event }) => (event.type === 'REQUEST' ? { envelope: event.envelope, replyTo: event.replyTo } : undefined),
    }),
    /** Answers the running request. */
    finishRunning: enqueueActions(({ context, enqueue }, params: Outcome) => {
      const r = context.running
      if (!r) return
      answer(enqueue, context, r.replyTo, r.envelope, replyFor(context, r.envelope, params))
      enqueue.assign({ running: undefined })
    }),
    /** Answers the payment with its result. */
    answerPayment: enqueueActions(({ context, enqueue }, result: PaymentResult | undefined) => {
      const p = context.payment
      if (!p || !result) return
      answer(enqueue, context, p.replyTo, p.envelope, paymentReply(context, p, result))
      enqueue.assign({ payment: undefined, paymentResult: undefined })
    }),
    /** Tells the attached connections a payment's outcome as soon as it is known. */
    pushPaymentStatus: enqueueActions(({ context, enqueue }, result: PaymentResult) => {
      const event = paymentStatus(context, result)
      for (const s of context.sessions) enqueue.sendTo(s, { type: 'PUSH', event })
    }),
    /**
     * close or shutdown ends what runs: its request is answered now instead of being lost —
     * finish_payment with its outcome when only the card removal was left, anything else failed.
     */
    interruptRunning: enqueueActions(({ context, enqueue }) => {
      const r = context.running
      if (!r || r.envelope.request.command === 'close') return
      const command = r.envelope.request.command
      const outcome = context.settledOutcome ?? { success: false, error: coded(new ContextClosedError(command, context.name)) }
      answer(enqueue, context, r.replyTo, r.envelope, replyFor(context, r.envelope, outcome))
      enqueue.assign({ running: undefined, settledOutcome: undefined })
    }),
    /** The pinpad is gone: what runs and a pending payment fail with `e`. */
    answerAllWith: enqueueActions(({ context, enqueue }, e: ErrorValue) => {
      const { running, payment } = context
      if (running) answer(enqueue, context, running.replyTo, running.envelope, replyFor(context, running.envelope, { success: false, error: e }))
      if (payment) answer(enqueue, context, payment.replyTo, payment.envelope, paymentReply(context, payment, context.paymentResult ?? { status: 'errored', error: e }))
      enqueue.assign({ running: undefined, payment: undefined, paymentResult: undefined, settledOutcome: undefined })
    }),
    /** Answers the request in the event right away, without changing what runs. */
    replyNow: enqueueActions(({ context, event, enqueue }, params: Outcome) => {
      if (event.type === 'REQUEST') answer(enqueue, context, event.replyTo, event.envelope, replyFor(context, event.envelope, params))
    }),
    /** A refusal that is not a rule of order (nothing to cancel…): the command is still not "allowed". */
    refuseWith: enqueueActions(({ context, event, enqueue }, e: ErrorValue) => {
      if (event.type === 'REQUEST') answer(enqueue, context, event.replyTo, event.envelope, replyFor(context, event.envelope, { success: false, error: e }))
    }),
    replyStatus: enqueueActions(({ event, enqueue, self }) => {
      if (event.type !== 'REQUEST') return
      enqueue.sendTo(event.replyTo, replyFor(self.getSnapshot().context as ContextContext, event.envelope, { success: true, response: statusOf(self.getSnapshot()) }))
    }),
    /** Busy (naming what runs) or out of order (saying what is allowed now), read off the current state. */
    refuse: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'REQUEST') return
      answer(enqueue, context, event.replyTo, event.envelope, replyFor(context, event.envelope, refusal(self.getSnapshot(), event.envelope.request.command)))
    }),
    /**
     * Tells the attached connections the context's status, when it changed since the last time.
     * A state entered names its status (an action cannot read the state it enters); otherwise it
     * is read off the current state.
     */
    pushStatus: enqueueActions(({ context, enqueue, self }, entered?: StatusResponse['status']) => {
      // No snapshot yet while the initial state is entered: nothing but the context's own data then.
      const snapshot = self.getSnapshot() as AnyMachineSnapshot | undefined
      const status = entered ?? (snapshot ? statusWord(snapshot) : 'idle')
      // Idle holds no pinpad: the device being stopped right now is no longer shown.
      const device = snapshot && entered !== 'idle' ? deviceStateOf(snapshot) : undefined
      const running = runningCommand(context)
      const key = statusKey(status, device, running)
      if (key === context.pushed.status) return
      context.pushed.status = key
      const event = statusEvent(context.name, { status, ...(device ? { device_state: device } : {}), ...(running ? { running_command: running } : {}) })
      for (const session of context.sessions) enqueue.sendTo(session, { type: 'PUSH', event })
    }),
    claimDevice: enqueueActions(({ context, enqueue, self }) => {
      const r = context.running!.envelope.request as RequestOf<'initialize'>
      enqueue.sendTo(context.bridge, { type: 'CLAIM', context: context.name, replyTo: self, ...(r.device_id !== undefined ? { deviceId: r.device_id } : {}) })
    }),
    /** The pinpad goes back to the bridge; `broken`: its actor failed, so nothing closed its link. */
    releaseDevice: enqueueActions(({ context, event, enqueue }) => {
      if (context.deviceId !== undefined) {
        const broken = event.type === 'xstate.error.actor.device'
        enqueue.sendTo(context.bridge, { type: 'RELEASE', context: context.name, deviceId: context.deviceId, ...(broken ? { broken } : {}) })
      }
      enqueue.assign({ deviceId: undefined, pinpadSpec: undefined })
      enqueue.stopChild('device')
    }),
    tellDevice: enqueueActions(({ enqueue }, event: DeviceEvent) => enqueue.sendTo('device', event)),
  },
  guards: {
    isCommand: ({ event }, params: { command: CommandName }) => event.type === 'REQUEST' && event.envelope.request.command === params.command,
    /** Nothing runs and no payment waits for its answer. */
    nothingPending: ({ context }) => context.running === undefined && context.payment === undefined,
    /** No connection is attached and nothing runs: an idle context with nobody to serve ends. */
    unattended: ({ context }) => context.sessions.length === 0 && context.running === undefined,
    closeRequested: ({ context }) => context.running?.envelope.request.command === 'close',
    paymentAccepted: ({ event }) => event.type === 'DEVICE.PAYMENT_RESULT' && event.result.card_hash !== undefined,
    /** The device reached a state where it waits for the POS again (the card is out). */
    deviceSettled: ({ event }) => event.type === 'DEVICE.STEP' && (event.step === 'ready' || event.step === 'awaitingFinish'),
    /** The connection going away is the last one attached (a prompt then has nobody to answer). */
    lastSessionLeft: ({ context, event }) => event.type === 'SESSION.CLOSED' && context.sessions.every((s) => isSession(s, event.sessionId)),
    /** The pinpad speaks ABECS 1.x: no MNU, no GCD (§3.1.3). */
    pinpadLacksPrompts: ({ context }) => context.pinpadSpec?.abecs === false,
    promptFailed: ({ event }) => event.type === 'DEVICE.PROMPTED' && event.error !== undefined,
  },
})
