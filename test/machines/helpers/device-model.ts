/**
 * The model of the device machine for model-based testing (xstate/graph): which events the
 * outside world — the POS (user events), the cardholder, the pinpad and the acquirer (through the
 * invoked actors' done/error events), the cable (LINK.CLOSED), the clock (a deadline passing) —
 * can send in each state, with payloads that choose the branch. The traversal of the machine with
 * these events gives paths; each is then executed on a live device actor with the real actors and
 * the virtual pinpad.
 *
 * Card and outcome choices ride on the events: a readCard output's `cardRef` is the name of the
 * test card the cardholder presents, the payment's amount cents choose the pinpad's behaviour
 * (src/simulator/outcomes.ts), and an error event's `how` says how the live rig produces it. The
 * device starts connecting with its input: one traversal per way of connecting.
 */
import { getAdjacencyMap, type AdjacencyMap } from 'xstate/graph'
import type { SnapshotFrom } from 'xstate'
import { deviceMachine, type ConnectParams, type DeviceEvent } from '../../../machines/device.machine.js'
import type { CardHashKeyRef, ChipOutput, InputResult, MenuResult, PinpadHandle, PinpadIdentity, ReadCardOutput } from '../../../machines/types.js'
import { DEFAULT_TABLES } from '../../../src/tables/default-tables.js'
import { TYPED_VALUES } from '../../fixtures/typed-values.js'
import { at as stateAt } from './device-states.js'

export type DeviceSnapshot = SnapshotFrom<typeof deviceMachine>

export const KEY = 'ek_test_model_0123456789abcdef'
/** The sandbox refuses keys that are not ek_test_: table sync and the card-hash key fail with it. */
export const BAD_KEY = 'ek_live_model_0123456789abcdef'

/** How the live rig makes an invoked actor fail. */
export type FailureHow =
  /** The device is unplugged before it is opened: the registry has no such device. */
  | 'unplugged'
  /** The sandbox refuses the encryption key (401). */
  | 'bad-key'
  /** The pinpad does not ACK the next command (LinkAckTimeoutError). */
  | 'no-ack'
  /** The cardholder presses CANCEL (ST_CANCEL, 013). */
  | 'cardholder-cancel'
  /** Nobody answers a prompt: the pinpad's SPE_TIMEOUT passes (ST_TIMEOUT, 012). */
  | 'cardholder-idle'
  /** The pinpad is hung: CAN gets no EOT. */
  | 'stalled'
  /** The real actor cannot fail this way: the event is sent to the live actor as it is. */
  | 'injected'

export type ModelEvent =
  | DeviceEvent
  | { type: `xstate.after.${string}` }
  | { type: `xstate.done.actor.${string}`; output?: unknown }
  | { type: `xstate.error.actor.${string}`; error: { code: string; message: string }; how: FailureHow }

/** The customer's deadline passing in a state (its path in the machine: `payment.steps.cardholder`, `finishing`…). */
export const deadline = (statePath: string): ModelEvent => ({ type: `xstate.after.customerDeadline.device.connected.${statePath}` })

export const done = (id: string, output?: unknown): ModelEvent => ({ type: `xstate.done.actor.${id}`, ...(output !== undefined ? { output } : {}) })
export const fail = (id: string, how: FailureHow): ModelEvent => ({
  type: `xstate.error.actor.${id}`,
  error: { code: `MODEL_${how.toUpperCase().replace(/-/g, '_')}`, message: `${id} fails: ${how}` },
  how,
})

/** The identities the real openPinpad reads from the two virtual pinpads (GIN/GIX). */
export const IDENTITY_212: PinpadIdentity = {
  manufacturer: 'GERTEC',
  model: 'MOBI PIN 10',
  serialNumber: 'VPP0000000000001',
  firmwareVersion: 'VPP-OS 1.0',
  specVersion: '2.12',
  contactless: true,
  dukptKeys: [1],
  abecs: true,
}
export const IDENTITY_108: PinpadIdentity = { ...IDENTITY_212, specVersion: '1.08', abecs: false }
const opened = (identity: PinpadIdentity): ModelEvent => done('openPinpad', { deviceId: 1, identity } satisfies PinpadHandle)

/** The ways a device is asked to connect (its input). */
export const CONNECTS: Record<string, ConnectParams> = {
  full: { encryptionKey: KEY },
  simple: { encryptionKey: KEY, simpleInitialize: true },
  badSimple: { encryptionKey: BAD_KEY, simpleInitialize: true },
  badFull: { encryptionKey: BAD_KEY },
}

/** Payments: the cents choose the pinpad's behaviour. */
export const PAY = {
  approved: { type: 'PROCESS_PAYMENT', amount: 1500 },
  offlinePin: { type: 'PROCESS_PAYMENT', amount: 1502 },
  cardDeclines: { type: 'PROCESS_PAYMENT', amount: 1570 },
  cardholderCancel: { type: 'PROCESS_PAYMENT', amount: 1513 },
  debit: { type: 'PROCESS_PAYMENT', amount: 1500, magstripe_payment_method: 'debit_card' },
} as const satisfies Record<string, ModelEvent>

export const DISPLAY_SHORT: ModelEvent = { type: 'DISPLAY_MESSAGE', message: 'OLA MUNDO' }
/** Does not fit DSP's 2×16: DEX on a 2.x pinpad. */
export const DISPLAY_LONG: ModelEvent = { type: 'DISPLAY_MESSAGE', message: 'Obrigado pela preferencia\nVolte sempre!' }
/** Customer prompts: a menu (MNU), one whose 1 s SPE_TIMEOUT passes on the pinpad, a CPF (GCD). */
export const MENU: ModelEvent = { type: 'PROMPT_MENU', title: 'PAGAMENTO', options: ['CREDITO', 'DEBITO'] }
export const MENU_SHORT: ModelEvent = { type: 'PROMPT_MENU', options: ['CREDITO', 'DEBITO'], timeout_milliseconds: 1000 }
export const INPUT: ModelEvent = { type: 'PROMPT_INPUT', prompt: 'cpf', min_digits: 11, max_digits: 11 }
const CHOSEN = done('chooseOption', { index: 1, option: 'DEBITO' } satisfies MenuResult)
const TYPED = done('enterData', { value: TYPED_VALUES.cpf } satisfies InputResult)
export const FINISH_APPROVED: ModelEvent = { type: 'FINISH_PAYMENT', success: true, response_code: '0000' }
export const CANCEL: ModelEvent = { type: 'CANCEL' }
export const CLOSE: ModelEvent = { type: 'CLOSE', message: 'ATE LOGO' }
export const UNPLUG: ModelEvent = { type: 'LINK.CLOSED', reason: 'unplugged' }
export const PROMPT: ModelEvent = { type: 'PINPAD.PROMPT', message: 'APROXIME, INSIRA OU PASSE CARTAO' }

/** What each test card reads as (the real readCard's summary). */
const CARDS: Record<string, Extract<ReadCardOutput, { kind: 'card' }>['card']> = {
  'visa-credit': { paymentMethod: 'credit_card', holderName: 'ANA SILVA', brand: 'visa', contactless: false, chip: true, needsPin: false },
  'visa-contactless': { paymentMethod: 'credit_card', holderName: 'RAFAEL GOMES', brand: 'visa', contactless: true, chip: true, needsPin: false },
  'magstripe-credit': { paymentMethod: 'credit_card', holderName: 'PAULO RODRIGUES', contactless: false, chip: false, needsPin: false },
  'magstripe-debit': { paymentMethod: 'debit_card', holderName: 'JULIA FERREIRA', contactless: false, chip: false, needsPin: true },
  'mastercard-contactless-magstripe': { paymentMethod: 'credit_card', brand: 'mastercard', contactless: true, chip: false, needsPin: false },
}

export const read = (card: keyof typeof CARDS): ModelEvent => done('readCard', { kind: 'card', cardRef: card, card: CARDS[card]! } satisfies ReadCardOutput)
export const TABLES_OUTDATED: ModelEvent = done('readCard', { kind: 'tables-outdated' } satisfies ReadCardOutput)
const chip = (decision: ChipOutput['decision'], pin: ChipOutput['pin']): ModelEvent => done('goOnChip', { decision, pin } satisfies ChipOutput)
const SYNCED = done('syncTables', { tablesVersion: DEFAULT_TABLES.version, loaded: false })
const RELOADED = done('syncTables', { tablesVersion: DEFAULT_TABLES.version, loaded: true })
const KEY_FETCHED = done('fetchCardHashKey', { id: 'model', publicKey: 'model' } satisfies CardHashKeyRef)

/** The payment's kind: amount cents, or "debit" for a magstripe debit. */
export function paymentClass(p: { amount: number; magstripe_payment_method?: string } | undefined): string | undefined {
  if (!p) return undefined
  if (p.magstripe_payment_method === 'debit_card') return 'debit'
  return String(p.amount % 100).padStart(2, '0')
}

const inPayment = (s: DeviceSnapshot) => s.matches(stateAt('payment'))
const keyFetching = (s: DeviceSnapshot) => inPayment(s) && s.matches({ connected: { payment: { cardHashKey: 'fetching' } } } as never)

/** The model state: the state value and only what decides guards and which events apply. */
export function modelKey(s: DeviceSnapshot): string {
  const c = s.context
  const p = c.payment
  const resting = s.status !== 'active' || s.matches('closing')
  return JSON.stringify({
    v: s.value,
    // Closing a device that never got connected has no link (and no CLO) to hold it there.
    ...(s.matches('closing') ? { identified: c.pinpad !== undefined } : {}),
    ...(s.matches('connecting') || s.matches(stateAt('syncingTables')) ? { simple: c.connect.simpleInitialize === true } : {}),
    ...(s.matches(stateAt('prompting')) ? { promptMs: c.prompt?.timeoutMs } : {}),
    // Where a payment starts: with a key kept from the one before, it asks for none.
    ...(s.matches(stateAt('ready')) && c.cardHashKey !== undefined ? { kept: true } : {}),
    ...(resting ? {} : { bad: c.connect.encryptionKey === BAD_KEY, v1: c.pinpad?.identity.abecs === false }),
    ...(p && !resting
      ? { pay: { cls: paymentClass(p), card: p.cardRef, chip: p.chip && `${p.chip.decision}/${p.chip.pin}`, reloaded: p.tablesReloaded === true, result: p.result?.status, key: p.key !== undefined } }
      : {}),
  })
}

/** The events that can happen in a model state (and that the live rig can make happen). */
export function modelEvents(s: DeviceSnapshot): ModelEvent[] {
  if (s.status !== 'active') return []
  const c = s.context
  const p = c.payment
  const bad = c.connect.encryptionKey === BAD_KEY
  const v1 = c.pinpad?.identity.abecs === false
  const cls = paymentClass(p)
  /** The 2.12 pinpad with a good key and an approving amount: where interruptions are tried. */
  const main = !bad && !v1 && (cls === undefined || cls === '00')
  const contactChip = p?.card?.chip === true && !p.card.contactless
  const interrupt = (when: boolean) => (when ? [CLOSE, UNPLUG] : [])
  // The acquirer's answer to the card-hash key request, while it is still asked for.
  const keyEvents = keyFetching(s) ? (bad ? [fail('fetchCardHashKey', 'bad-key')] : [KEY_FETCHED]) : []
  const keyFirst = keyFetching(s) && !p?.cardRef
  /** Where the card is read while the key is still asked for (once for a good key, once for a bad one). */
  const cardBeforeKey = keyFirst && !v1 && (bad || cls === '00')

  if (s.matches('connecting')) {
    const full = c.connect.simpleInitialize !== true && !bad
    return [opened(IDENTITY_212), ...(full ? [opened(IDENTITY_108), fail('openPinpad', 'unplugged'), CLOSE] : [])]
  }
  if (s.matches(stateAt('syncingTables'))) return bad ? [fail('syncTables', 'bad-key')] : [SYNCED, ...interrupt(!v1)]
  if (s.matches(stateAt('ready'))) {
    if (v1 || bad) return [PAY.approved]
    return [PAY.approved, PAY.offlinePin, PAY.cardDeclines, PAY.cardholderCancel, PAY.debit, DISPLAY_SHORT, DISPLAY_LONG, MENU, MENU_SHORT, INPUT, fail('showIdle', 'no-ack'), ...interrupt(true)]
  }
  if (s.matches(stateAt('displaying'))) return [done('displayMessage'), fail('displayMessage', 'no-ack'), ...interrupt(true)]
  if (s.matches(stateAt('idle'))) return [PAY.approved, DISPLAY_SHORT, MENU, INPUT, ...interrupt(true)]
  if (s.matches(stateAt('awaitingChoice'))) {
    // The short menu: nobody answers, the pinpad's own timeout ends it.
    if (c.prompt?.timeout_milliseconds !== undefined) return [fail('chooseOption', 'cardholder-idle')]
    return [CHOSEN, fail('chooseOption', 'cardholder-cancel'), CANCEL, deadline('prompting'), ...interrupt(true)]
  }
  if (s.matches(stateAt('awaitingInput'))) return [TYPED, fail('enterData', 'cardholder-cancel'), CANCEL, deadline('prompting')]
  if (s.matches(stateAt('awaitingCard'))) {
    const cards = (): ModelEvent[] => {
      if (v1) return p?.tablesReloaded ? [read('visa-credit'), TABLES_OUTDATED] : [TABLES_OUTDATED]
      if (bad) return [read('magstripe-credit')]
      if (cls === '13') return [fail('readCard', 'cardholder-cancel')]
      if (cls === 'debit') return [read('magstripe-debit')]
      if (cls !== '00') return [read('visa-credit')]
      return [read('visa-credit'), read('visa-contactless'), read('magstripe-credit'), read('mastercard-contactless-magstripe'), PROMPT, CANCEL, deadline('payment.steps.cardholder'), ...interrupt(true)]
    }
    // Usually the key comes first; on one path the card is read before it.
    if (keyFirst) return [...keyEvents, ...(cardBeforeKey ? (bad ? [read('magstripe-credit')] : [read('visa-credit')]) : [])]
    return cards()
  }
  if (s.matches(stateAt('reloadingTables'))) return [RELOADED, fail('syncTables', 'no-ack'), CANCEL, ...interrupt(true)]
  if (s.matches(stateAt('onChip'))) {
    if (keyFetching(s)) return [...keyEvents]
    if (!contactChip) return [chip('online', 'none')]
    const decided = cls === '02' ? chip('online', 'offline') : cls === '70' ? chip('declined', 'online') : chip('online', 'online')
    return [decided, ...(main ? [fail('goOnChip', 'cardholder-cancel'), CANCEL, ...interrupt(true)] : [])]
  }
  if (s.matches(stateAt('awaitingPin'))) return [done('capturePin'), fail('capturePin', 'cardholder-cancel'), CANCEL, ...interrupt(true)]
  // The card is read and the key still asked for: where an interruption can meet `processed`
  // (hashing itself takes no time the live rig could hold).
  if (s.matches(stateAt('waitingForKey'))) return [...keyEvents, ...(main && contactChip ? [CANCEL, ...interrupt(true)] : [])]
  if (s.matches(stateAt('hashing'))) return [done('buildCardHash', { cardHash: 'model' })]
  if (s.matches(stateAt('awaitingFinish'))) return [FINISH_APPROVED, CANCEL, ...interrupt(main && contactChip)]
  if (s.matches(stateAt('finishing'))) {
    return [done('finishChip', { approved: true }), ...(main ? [fail('finishChip', 'no-ack'), deadline('finishing'), ...interrupt(contactChip)] : [])]
  }
  if (s.matches(stateAt('removingCard'))) {
    // The interruptions once, where a finished chip payment waits for its card to be taken.
    const canonical = main && contactChip && p?.chip?.decision === 'online' && p.result?.status === 'accepted'
    return [done('removeCard'), ...(canonical ? [fail('removeCard', 'no-ack'), CANCEL, deadline('removingCard'), ...interrupt(true)] : [])]
  }
  if (s.matches(stateAt('cancelling'))) {
    // A payment cancelled while waiting for a card: where the cancel itself is tried.
    const canonical = main && p !== undefined && p.cardRef === undefined
    return [done('cancelPinpad'), ...(canonical ? [fail('cancelPinpad', 'stalled'), ...interrupt(true)] : [])]
  }
  // The deadline passed while nobody presented a card: the pinpad confirms the CAN, or is hung.
  if (s.matches(stateAt('timingOut'))) return [done('cancelPinpad'), fail('cancelPinpad', 'stalled')]
  if (s.matches('closing')) return [done('closeLink'), fail('closeLink', 'injected'), UNPLUG]
  return []
}

/** States whose actor ends by itself (no POS or cardholder input), and that actor. */
const SETTLING_ACTOR: Record<string, string> = {
  syncingTables: 'syncTables',
  displaying: 'displayMessage',
  finishing: 'finishChip',
  cancelling: 'cancelPinpad',
  timingOut: 'cancelPinpad',
  removingCard: 'removeCard',
  closing: 'closeLink',
}
const SETTLING = Object.keys(SETTLING_ACTOR)

export interface ModelStep {
  event: ModelEvent
  /** The model state the event leads to. */
  state: DeviceSnapshot
}

export interface ModelPath {
  /** How the device was asked to connect (its input). */
  connect: ConnectParams
  steps: ModelStep[]
  /** "full: done.openPinpad → …" */
  description: string
}

/**
 * The device machine as the model runs it: a key fetched by an earlier payment is kept (src/ also
 * lets it go when too old or refused, which no model path reaches).
 */
export const modelMachine = deviceMachine.provide({ guards: { keyKept: ({ context }) => context.cardHashKey !== undefined } })

export function adjacency(connect: ConnectParams): AdjacencyMap<DeviceSnapshot, ModelEvent> {
  return getAdjacencyMap(modelMachine as never, {
    events: modelEvents as never,
    serializeState: modelKey as never,
    input: { deviceId: 1, connect },
  }) as unknown as AdjacencyMap<DeviceSnapshot, ModelEvent>
}

export const describeEvent = (e: ModelEvent): string => {
  const m = /^xstate\.(done|error)\.actor\.(.+)$/.exec(e.type)
  const name = m ? `${m[1]}.${m[2]}` : e.type.replace(/^xstate\.after\.customerDeadline\.device\.connected\./, 'deadline.')
  const { type: _, ...rest } = e as { type: string } & Record<string, unknown>
  const detail =
    'output' in rest && rest.output && typeof rest.output === 'object'
      ? JSON.stringify(rest.output, (k, v) => (k === 'card' ? undefined : k === 'identity' ? (v as PinpadIdentity).specVersion : v))
      : 'how' in rest
        ? String(rest.how)
        : Object.keys(rest).length
          ? JSON.stringify(rest)
          : ''
  return detail ? `${name}(${detail.length > 60 ? `${detail.slice(0, 57)}...` : detail})` : name
}

/**
 * Transition coverage paths: for every edge of the adjacency map, the shortest path to its
 * source state followed by the edge. A path left in a state whose actor ends by itself
 * (cancelling, displaying, finishing, removing the card, closing…) goes on to the end of that
 * step, so that what a CLOSE, a CANCEL or a FINISH_PAYMENT does on the pinpad is checked too.
 * Paths that are a prefix of another are dropped.
 */
export function coveragePaths(connect: ConnectParams, name: string, adj: AdjacencyMap<DeviceSnapshot, ModelEvent>): ModelPath[] {
  const keys = Object.keys(adj)
  const start = keys[0]!
  const parent = new Map<string, { from: string; eventKey: string } | null>([[start, null]])
  const queue = [start]
  while (queue.length) {
    const key = queue.shift()!
    for (const [eventKey, { state }] of Object.entries(adj[key as never]!.transitions)) {
      const next = modelKey(state)
      if (parent.has(next)) continue
      parent.set(next, { from: key, eventKey })
      queue.push(next)
    }
  }
  const stepsTo = (key: string): ModelStep[] => {
    const steps: ModelStep[] = []
    for (let at = parent.get(key); at; at = parent.get(at.from)) {
      const t = adj[at.from as never]!.transitions[at.eventKey as never]!
      steps.unshift({ event: t.event, state: t.state })
    }
    return steps
  }
  const finish = (state: DeviceSnapshot, type: string): ModelStep | undefined => {
    const t = Object.values(adj[modelKey(state) as never]?.transitions ?? {}).find((x) => x.event.type === type)
    return t && { event: t.event, state: t.state }
  }
  const paths: ModelStep[][] = []
  for (const key of keys) {
    for (const t of Object.values(adj[key as never]!.transitions)) {
      const steps = [...stepsTo(key), { event: t.event, state: t.state }]
      // A path left where the device finishes a step by itself goes on to that step's end.
      for (let more = 0; more < 3; more++) {
        const last = steps.at(-1)!.state
        if ((steps.at(-1)!.event as { how?: string }).how === 'injected') break
        const state = SETTLING.find((s) => (s === 'closing' ? last.matches('closing') : last.matches(stateAt(s))))
        const next = state && finish(last, `xstate.done.actor.${SETTLING_ACTOR[state]}`)
        if (!next) break
        steps.push(next)
      }
      paths.push(steps)
    }
  }
  // Drop prefixes (longest first; a path is kept unless a kept one starts with all its steps).
  const sig = (steps: ModelStep[]) => steps.map((s) => JSON.stringify(s.event))
  paths.sort((a, b) => b.length - a.length)
  const kept: ModelStep[][] = []
  for (const path of paths) {
    const mine = sig(path)
    if (kept.some((k) => mine.every((e, i) => sig(k)[i] === e))) continue
    kept.push(path)
  }
  return kept.map((steps) => ({ connect, steps, description: `${name}: ${steps.map((s) => describeEvent(s.event)).join(' → ')}` }))
}
