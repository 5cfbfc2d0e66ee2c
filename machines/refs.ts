/**
 * The actors' addresses, each typed by the events it accepts: what one actor sends another is
 * checked by the compiler, never cast. (Type-only imports: the machines stay independent modules.)
 */
import type { ActorRef, Snapshot } from 'xstate'
import type { BridgeEvent } from './bridge.machine.js'
import type { ContextEvent } from './context.machine.js'
import type { SessionEvent } from './session.machine.js'

/** The root actor: routes requests, lends pinpads, forgets ended contexts. */
export type BridgeRef = ActorRef<Snapshot<unknown>, BridgeEvent>
/** One context (by name, process-wide). */
export type ContextRef = ActorRef<Snapshot<unknown>, ContextEvent>
/** One connection's session: where replies and pushed events go. */
export type SessionRef = ActorRef<Snapshot<unknown>, SessionEvent>
