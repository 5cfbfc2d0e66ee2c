/** The device machine's data, its events and notices, and the inputs of its invoked actors. */
import type { ActorRef } from 'xstate'
import type {
  CardHashKeyRef,
  CardSummary,
  ChipOutput,
  ErrorValue,
  FinishRequest,
  FinishResult,
  InputRequest,
  InputResult,
  MenuRequest,
  MenuResult,
  PaymentRequest,
  PaymentResult,
  PinpadHandle,
  PinpadIdentity,
} from './types.js'

export interface ConnectParams {
  encryptionKey: string
  /** Skip the EMV table sync (initialize's `simple_initialize`). */
  simpleInitialize?: boolean
  /** Fail when the port does not answer within this time (initialize's `timeout_milliseconds`). */
  timeoutMs?: number
  baudRate?: number
  /** Open with the secure OPN (initialize's `secure_session`; §3.2.2, §5.2). */
  secureSession?: boolean
}

export type DeviceEvent =
  | ({ type: 'PROCESS_PAYMENT' } & PaymentRequest)
  | ({ type: 'FINISH_PAYMENT' } & FinishRequest)
  | { type: 'CANCEL' }
  | { type: 'DISPLAY_MESSAGE'; message: string }
  /** pinpad_menu: MNU (§3.3.13). */
  | ({ type: 'PROMPT_MENU' } & MenuRequest)
  /** pinpad_input: GCD (§3.3.8). */
  | ({ type: 'PROMPT_INPUT' } & InputRequest)
  | { type: 'CLOSE'; message?: string }
  /** From the link watcher: the port went away (unplugged, I/O error). */
  | { type: 'LINK.CLOSED'; reason: string }
  /** From the link watcher: an NTM notification or prompt of the pinpad (§2.3.3). */
  | { type: 'PINPAD.PROMPT'; message: string }

/** What the device tells its owner: the results of what the owner asked, and the pinpad's prompts. */
export type DeviceNotice =
  | { type: 'DEVICE.CONNECTED'; identity: PinpadIdentity; tablesVersion?: string }
  | { type: 'DEVICE.PAYMENT_RESULT'; result: PaymentResult }
  | { type: 'DEVICE.FINISHED'; error?: ErrorValue; result?: FinishResult }
  | { type: 'DEVICE.DISPLAYED'; error?: ErrorValue }
  /** A prompt's answer, or why there is none (the customer cancelled, the time ran out, the link…). */
  | { type: 'DEVICE.PROMPTED'; response?: MenuResult | InputResult; error?: ErrorValue }
  | { type: 'DEVICE.PROMPT'; message: string }
  /**
   * The step the outside world sees (deviceStep, `idle` shown as `ready`) changed: sent on entering
   * a state the device rests in, after that transition's other notices. The owner hears of nothing
   * else of the device's inner changes (a snapshot per exchange would cost it a step each).
   */
  | { type: 'DEVICE.STEP'; step: PublicStep }

/** What the outside world calls the device's step (status `device_state`). */
export type PublicStep =
  | 'connecting'
  | 'syncingTables'
  | 'ready'
  | 'displaying'
  | 'awaitingChoice'
  | 'awaitingInput'
  | 'awaitingCard'
  | 'reloadingTables'
  | 'onChip'
  | 'awaitingPin'
  | 'processed'
  | 'awaitingFinish'
  | 'finishing'
  | 'removingCard'
  | 'cancelling'
  | 'timingOut'
  | 'closing'

/** How the device actor ended (its final state's output, in the owner's `xstate.done.actor.device`). */
export type DeviceEnd =
  /** CLOSE answered (CLO sent), or the table sync failed after the port opened (`error`). */
  | { kind: 'closed'; error?: ErrorValue }
  /** The port could not be opened or the pinpad did not identify itself. */
  | { kind: 'connectFailed'; error: ErrorValue }
  /** The port went away: unplugged, Bluetooth lost. */
  | { kind: 'lost'; reason: string }
  /** No EOT to CAN: the pinpad was let go. */
  | { kind: 'unresponsive'; error: ErrorValue }

export interface PaymentState extends PaymentRequest {
  /** How long the customer may take (timeout_milliseconds, or the default). */
  timeoutMs: number
  /** finish_payment's request, while the chip finishes. */
  finish?: FinishRequest
  cardRef?: string
  card?: CardSummary
  chip?: ChipOutput
  /** The card-hash key: kept from an earlier payment, or fetched while the pinpad waits for the card. */
  key?: CardHashKeyRef
  /** The GCR was answered 020 once already (a second 020 is an error, not a loop). */
  tablesReloaded?: boolean
  result?: PaymentResult
}

/** The prompt on the pinpad (its request, which holds nothing secret; the answer never comes here). */
export type PromptState = ({ kind: 'menu' } & MenuRequest) | ({ kind: 'input' } & InputRequest)

export interface DeviceContext {
  deviceId: number
  owner?: ActorRef<any, DeviceNotice>
  connect: ConnectParams
  /** The open pinpad (src/'s object: link, client, identity, dialect), once `openPinpad` is done. */
  pinpad?: PinpadHandle
  tablesVersion?: string
  /**
   * The last card-hash key fetched in this pinpad session (public: an id and an RSA public key).
   * The next payment uses it while src/ says it is still good (`keyKept`: its age, no refusal).
   */
  cardHashKey?: CardHashKeyRef
  payment?: PaymentState
  /** The customer prompt (pinpad_menu, pinpad_input) running or last run, with its timeout. */
  prompt?: PromptState & { timeoutMs: number }
  /** Why the device ended, when it did not end by CLOSE. */
  error?: ErrorValue
  /** Why the link went away (unplugged, I/O error). */
  lostReason?: string
}

export interface DeviceInput {
  deviceId: number
  owner?: ActorRef<any, DeviceNotice>
  connect: ConnectParams
}

// Inputs of the invoked actors: the open pinpad and what the step needs.
export interface OpenInput extends ConnectParams {
  deviceId: number
}
export interface PinpadInput {
  pinpad: PinpadHandle
}
export interface SyncInput extends PinpadInput {
  encryptionKey: string
  /** Load even if the versions match (after GCR answered 020). */
  force: boolean
}
export interface ReadCardInput extends PinpadInput {
  payment: PaymentState
  /** Resume the GCR that answered 020 (an empty GCR, §3.6.1). */
  resume: boolean
}
export interface CardInput extends PinpadInput {
  cardRef: string
  amount: number
}
/** `pinpad`: the session (one initialize) whose payments share the key. */
export interface KeyInput extends PinpadInput {
  encryptionKey: string
}
export interface HashInput {
  cardRef: string
  key: CardHashKeyRef
}
export interface FinishInput extends PinpadInput {
  cardRef: string
  contactless: boolean
  finish: FinishRequest
}
export interface MessageInput extends PinpadInput {
  message: string
}
export interface MenuInput extends PinpadInput {
  menu: MenuRequest & { timeoutMs: number }
}
export interface InputPromptInput extends PinpadInput {
  input: InputRequest & { timeoutMs: number }
}
