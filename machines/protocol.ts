/**
 * The `/ws` protocol as values (websocket-protocol.md, bridge-facts.md): requests after
 * validation, replies and server-pushed events. The server turns them into JSON.
 */
import type { Application, ErrorValue, FinishRequest, InputRequest, MenuRequest, PaymentMethod, PaymentResult } from './types.js'

export type Request =
  | { command: 'list_devices' }
  | {
      command: 'initialize'
      encryption_key: string
      device_id?: number
      baud_rate?: number
      simple_initialize?: boolean
      timeout_milliseconds?: number
      /** Beyond the original: open the pinpad with the secure OPN (§3.2.2, §5.2; 2.x pinpads only). */
      secure_session?: boolean
    }
  | { command: 'status' }
  | { command: 'display_message'; message: string }
  | { command: 'process_payment'; amount: number; applications?: Application[]; magstripe_payment_method?: PaymentMethod; timeout_milliseconds?: number }
  | ({ command: 'finish_payment' } & FinishRequest)
  | { command: 'close' }
  | { command: 'cancel' }
  /** Beyond the original protocol: answered from the journal, never reaches a context. */
  | { command: 'get_result'; target_command_id: string | number }
  /** Beyond the original: customer prompts on the pinpad (MNU §3.3.13, GCD §3.3.8; 2.x pinpads only). */
  | ({ command: 'pinpad_menu' } & MenuRequest)
  | ({ command: 'pinpad_input' } & InputRequest)
  /** Beyond the original: pairing (src/server/pairing/), answered before the session, never reaches a context. */
  | { command: 'pair'; code: string }
  | { command: 'authenticate'; token: string }

export type CommandName = Request['command']

/**
 * The commands recorded in the journal under their `command_id` (idempotent: the same command_id
 * again gets the recorded answer, not a second run).
 */
export const JOURNALED_COMMANDS: ReadonlySet<string> = new Set<CommandName>(['initialize', 'process_payment', 'finish_payment', 'cancel', 'close'])

/** A request as it travels between actors: `id` is the bridge's own; `commandId` the client's, for the journal. */
export interface Envelope {
  id: string
  context: string
  request: Request
  /** The client's command_id: the journal records the answer under it (src/journal/). */
  commandId?: string | number
}

export interface StatusResponse {
  status: 'idle' | 'initialized' | 'in_use'
  connected_device_id: number | null
  devices_available: number
  /** Also under the name of the original's docs table. */
  available_devices: number
  /** Beyond the original: the device machine's state and what runs now. */
  device_state?: string
  running_command?: string
  last_error?: ErrorValue
}

export type Reply =
  | { id: string; context: string; command: CommandName; success: true; response?: unknown }
  | { id: string; context: string; command: CommandName; success: false; error: ErrorValue; response?: PaymentResult }

/** Server-pushed events (a message with an `event` field, which the original client emits). */
export type PushEvent =
  | { event: 'device_added' | 'device_removed'; device: { id: number; name: string; manufacturer: string } }
  | { event: 'status'; context: string; status: StatusResponse['status']; device_state?: string; running_command?: string }
  | { event: 'pinpad_message'; context: string; message: string; lines: string[] }
  /** `result`: the whole process_payment result, when the connection that asked for it has gone (the wire renders it). */
  | { event: 'payment_status'; context: string; status: string; result?: PaymentResult | Record<string, unknown> }
