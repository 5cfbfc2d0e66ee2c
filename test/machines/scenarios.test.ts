/**
 * Scenarios through the whole machine tree (BridgeRuntime: bridge → contexts → devices, and a
 * session per connection), against virtual pinpads and the sandbox acquirer: every kind of
 * transaction, cancel at every blocking step, unplug in every state, two contexts at once, the
 * context's rules, the connection-drop policy, and no card data in any snapshot.
 *
 * The last test checks that the context, session and bridge machines had every state node and
 * every transition taken by the live actors of the tests above.
 */
import t, { type Test } from 'tap'
import { matchesState, type StateValue } from 'xstate'
import { bridgeMachine } from '../../machines/bridge.machine.js'
import { contextMachine } from '../../machines/context.machine.js'
import { deviceMachine } from '../../machines/device.machine.js'
import { sessionMachine } from '../../machines/session.machine.js'
import type { PushEvent, Request } from '../../machines/protocol.js'
import type { PaymentMethod, PaymentResult } from '../../machines/types.js'
import { paymentResponse } from '../../src/server/wire.js'
import { sanitize } from '../../src/bridge/sanitize.js'
import { decryptCardHash } from '../../src/acquirer/sandbox/index.js'
import { findCard } from '../../src/simulator/cards.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import type { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'
import { Coverage } from './helpers/coverage.js'
import { IDLE_LINES, isSubsequence } from './helpers/device-rig.js'
import { KEY, startBridge, type BridgeRig, type Client, type ReplyMessage } from './helpers/bridge-rig.js'
import { startSandbox, type Sandbox } from './helpers/sandbox.js'
import { TYPED_VALUES } from '../fixtures/typed-values.js'
import { at as stateAt } from './helpers/device-states.js'

const coverage = {
  context: new Coverage(contextMachine as never),
  session: new Coverage(sessionMachine as never),
  bridge: new Coverage(bridgeMachine as never),
  device: new Coverage(deviceMachine as never),
}
const observers = Object.values(coverage).map((c) => c.observe)
const HOLD_MS = 600

let sandbox: Sandbox
t.before(async () => {
  sandbox = await startSandbox(t)
})

const bridge = (t: Test, options: Parameters<typeof startBridge>[1] extends infer O ? Omit<O & object, 'sandbox' | 'observers'> : never = {}) =>
  startBridge(t, { sandbox, observers, ...options })

const v108 = { runtime: { simulator: { identity: { specVersion: '1.08' as const } } } }

/** The card hash opened by the sandbox (reading its key file: real I/O, the clock held meanwhile). */
const openCardHash = (b: BridgeRig, r: ReplyMessage) => b.clock.holdDuring(decryptCardHash(responseOf(r).card_hash as string, sandbox.dataDir))

/** What a pinpad received and answered: "GCX", "GCX:000", "EOT". */
function recorder(pad: VirtualPinpad) {
  const log: string[] = []
  pad.onLinkEvent((e) => {
    if (e.type === 'command') log.push(e.id)
    else if (e.type === 'response') log.push(`${e.id}:${e.status}`)
    else if (e.type === 'eot-sent') log.push('EOT')
  })
  return {
    log,
    mark: () => log.length,
    since: (mark: number) => log.slice(mark),
    ids: (mark = 0) => log.slice(mark).filter((x) => /^[A-Z]{3}$/.test(x)),
  }
}

/** Runs `fn` once when the pinpad next receives (or answers) `id`. */
function onPinpad(pad: VirtualPinpad, what: 'command' | 'response', id: string, fn: () => void, status?: string): void {
  let fired = false
  const off = pad.onLinkEvent((e) => {
    if (fired || e.type !== what || e.id !== id || (status !== undefined && (e as { status?: string }).status !== status)) return
    fired = true
    off()
    fn()
  })
}

async function initialize(t: Test, c: Client, context: string, extra: Partial<Extract<Request, { command: 'initialize' }>> = {}): Promise<void> {
  const r = await c.call(context, { command: 'initialize', encryption_key: KEY, ...extra })
  t.same(r.success, true, `initialize ${context}`, { reply: r })
}

/** A reply's response as the wire shows it (a payment's error as error/error_type). */
const responseOf = (r: ReplyMessage) =>
  r.command === 'process_payment' && r.success ? paymentResponse(r.response as PaymentResult) : ((r as { response?: Record<string, unknown> }).response ?? {})
const errorOf = (r: ReplyMessage) => (r as { error?: { code: string; message: string } }).error

async function statusOf(c: Client, context: string): Promise<Record<string, unknown>> {
  return responseOf(await c.call(context, { command: 'status' }))
}

// --- Every kind of transaction ---------------------------------------------------------

interface Kind {
  name: string
  card: string
  amount: number
  method?: PaymentMethod
  expect: Record<string, unknown>
  capture: 'emv' | 'magstripe'
  /** Commands of the payment (in order); and what must not be sent. */
  wire: string[]
  never: string[]
  /** Commands of finish_payment. */
  finish: string[]
}

const KINDS: Kind[] = [
  {
    name: 'chip, online PIN',
    card: 'visa-credit',
    amount: 1000,
    expect: { status: 'accepted', payment_method: 'credit_card', is_online_pin: true, card_holder_name: 'ANA SILVA' },
    capture: 'emv',
    wire: ['GCX', 'GTK', 'GOX'],
    never: ['GPN'],
    finish: ['FCX', 'RMC'],
  },
  {
    name: 'chip, offline PIN',
    card: 'visa-credit-offline-pin',
    amount: 1002,
    expect: { status: 'accepted', payment_method: 'credit_card', is_online_pin: false },
    capture: 'emv',
    wire: ['GCX', 'GTK', 'GOX'],
    never: ['GPN'],
    finish: ['FCX', 'RMC'],
  },
  {
    name: 'chip declined by the card',
    card: 'visa-credit',
    amount: 1070,
    expect: { status: 'rejected', payment_method: 'credit_card' },
    capture: 'emv',
    wire: ['GCX', 'GTK', 'GOX'],
    never: ['GPN'],
    // The card declined offline: nothing to finish on the chip, the card comes out.
    finish: ['RMC'],
  },
  {
    name: 'magstripe credit',
    card: 'magstripe-credit',
    amount: 1000,
    expect: { status: 'accepted', payment_method: 'credit_card', is_online_pin: false, card_holder_name: 'PAULO RODRIGUES' },
    capture: 'magstripe',
    wire: ['GCX', 'GTK'],
    never: ['GOX', 'GPN'],
    finish: [],
  },
  {
    name: 'magstripe debit with PIN',
    card: 'magstripe-debit',
    amount: 1000,
    method: 'debit_card',
    expect: { status: 'accepted', payment_method: 'debit_card', is_online_pin: true },
    capture: 'magstripe',
    wire: ['GCX', 'GTK', 'GPN'],
    never: ['GOX'],
    finish: [],
  },
  {
    name: 'contactless EMV',
    card: 'visa-contactless',
    amount: 1000,
    expect: { status: 'accepted', payment_method: 'credit_card', is_online_pin: false },
    capture: 'emv',
    wire: ['GCX', 'GTK', 'GOX'],
    never: ['GPN'],
    // Nothing in the slot: FCX, no RMC.
    finish: ['FCX'],
  },
  {
    name: 'contactless as magstripe',
    card: 'mastercard-contactless-magstripe',
    amount: 1000,
    expect: { status: 'accepted', payment_method: 'credit_card', is_online_pin: false },
    capture: 'magstripe',
    wire: ['GCX', 'GTK'],
    never: ['GOX', 'GPN'],
    finish: [],
  },
]

t.test('every kind of transaction', async (t) => {
  for (const kind of KINDS) {
    await t.test(kind.name, async (t) => {
      const b = await bridge(t)
      const pad = b.pads[0]!
      const rec = recorder(pad)
      const c = b.client()
      await initialize(t, c, 'shop')
      const before = rec.mark()
      pad.cardholder.present(kind.card)
      const r = await c.call('shop', { command: 'process_payment', amount: kind.amount, ...(kind.method ? { magstripe_payment_method: kind.method } : {}) })
      t.equal(r.success, true)
      t.match(responseOf(r), kind.expect, 'process_payment answer')
      const fields = await openCardHash(b, r)
      t.equal(fields.card_number, findCard(kind.card).pan, 'the card hash opens to the card presented')
      t.equal(fields.capture_method, kind.capture)
      t.ok(isSubsequence(kind.wire, rec.ids(before)), `the pinpad got ${kind.wire.join(' ')}`, { got: rec.ids(before) })
      for (const id of kind.never) t.notOk(rec.ids(before).includes(id), `no ${id}`)

      const finishMark = rec.mark()
      const f = await c.call('shop', { command: 'finish_payment', success: true, response_code: '0000' })
      t.equal(f.success, true, 'finish_payment')
      t.same(rec.ids(finishMark).filter((id) => id !== 'DSP'), kind.finish, `finish_payment sent ${kind.finish.join(' ') || 'nothing'} (then the idle screen)`)
      await b.settle('device:1', stateAt('ready')).catch(() => b.reach('device:1', stateAt('ready')))
      t.match(await statusOf(c, 'shop'), { status: 'initialized', device_state: 'ready', connected_device_id: 1 })
      await b.until(() => pad.display.screen.source === 'DSP', 'the idle screen')
      t.same(pad.display.screen.lines, IDLE_LINES, 'idle message on the display')
    })
  }

  t.test('1.08 pinpad: GCR/GOC/FNC, tables reloaded when GCR answers 020', async (t) => {
    const b = await bridge(t, v108)
    const pad = b.pads[0]!
    const rec = recorder(pad)
    const c = b.client()
    await initialize(t, c, 'shop')
    // Someone loaded other tables meanwhile: the host's GCR_TABVER no longer matches.
    pad.tables.preload('0000000001', factoryTables().records)
    const before = rec.mark()
    pad.cardholder.present('visa-credit')
    const r = await c.call('shop', { command: 'process_payment', amount: 1000 })
    t.match(responseOf(r), { status: 'accepted', payment_method: 'credit_card', is_online_pin: true })
    t.equal((await openCardHash(b, r)).card_number, '4761739001010010')
    const wire = rec.since(before)
    t.ok(isSubsequence(['GCR', 'GCR:020', 'GTS', 'TLI', 'TLR', 'TLE', 'TLE:000', 'GCR', 'GCR:000', 'GOC', 'GOC:000'], wire), 'GCR → 020 → reload → GCR again → GOC', { wire })
    t.notOk(rec.ids(before).some((id) => ['GCX', 'GOX'].includes(id)), 'no 2.x command')
    t.equal(pad.tables.version(0), DEFAULT_TABLES.version, 'the pinpad has the acquirer tables again')
    const mark = rec.mark()
    t.equal((await c.call('shop', { command: 'finish_payment', success: true, response_code: '0000' })).success, true)
    t.same(rec.ids(mark).filter((id) => id !== 'DSP'), ['FNC', 'RMC'])
  })
})

// --- Cancel at every blocking step --------------------------------------------------------

interface CancelCase {
  state: string
  v108?: boolean
  /** Starts the payment and holds the device in `state`; returns the payment's command id. */
  arrange(b: BridgeRig, c: Client, pad: VirtualPinpad): Promise<{ payment: number; finish?: number }>
  /** The payment was still waiting for its answer when cancelled. */
  pending: boolean
}

const CANCEL_CASES: CancelCase[] = [
  {
    state: 'awaitingCard',
    pending: true,
    async arrange(b, c, pad) {
      pad.cardholder.options.autoCard = null
      const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
      await b.reach('device:1', stateAt('awaitingCard'))
      await b.until(() => pad.display.text.includes('CARTAO'), 'the card prompt')
      return { payment }
    },
  },
  {
    state: 'reloadingTables',
    v108: true,
    pending: true,
    async arrange(b, c, pad) {
      pad.tables.preload('0000000001', factoryTables().records)
      onPinpad(pad, 'response', 'GCR', () => (pad.faults.responseDelayMs = HOLD_MS), '020')
      pad.cardholder.present('visa-credit')
      const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
      await b.reach('device:1', stateAt('reloadingTables'))
      return { payment }
    },
  },
  {
    state: 'onChip',
    pending: true,
    async arrange(b, c, pad) {
      pad.cardholder.options.autoPin = null
      const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
      await b.reach('device:1', stateAt('onChip'))
      await b.until(() => pad.display.screen.source === 'PIN', 'the PIN prompt')
      return { payment }
    },
  },
  {
    state: 'awaitingPin',
    pending: true,
    async arrange(b, c, pad) {
      pad.cardholder.options.autoPin = null
      pad.cardholder.present('magstripe-debit')
      const payment = c.send('shop', { command: 'process_payment', amount: 1000, magstripe_payment_method: 'debit_card' })
      await b.reach('device:1', stateAt('awaitingPin'))
      await b.until(() => pad.display.screen.source === 'PIN', 'the PIN prompt')
      return { payment }
    },
  },
  {
    state: 'processed',
    pending: true,
    async arrange(b, c) {
      const release = b.sandbox.holdCardHashKey()
      const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
      await b.reach('device:1', stateAt('processed'))
      b.clock.setTimeout(release, HOLD_MS)
      return { payment }
    },
  },
  {
    state: 'awaitingFinish',
    pending: false,
    async arrange(b, c, pad) {
      pad.cardholder.options.autoCard = null // the card stays in the slot until taken
      pad.cardholder.present('visa-credit')
      const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
      await c.reply(payment)
      await b.reach('device:1', stateAt('awaitingFinish'))
      return { payment }
    },
  },
  {
    state: 'removingCard',
    pending: false,
    async arrange(b, c, pad) {
      pad.cardholder.options.autoCard = null
      pad.cardholder.present('visa-credit')
      const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
      await c.reply(payment)
      const finish = c.send('shop', { command: 'finish_payment', success: true, response_code: '0000' })
      await b.reach('device:1', stateAt('removingCard'))
      await b.until(() => pad.display.screen.source === 'RMC', 'the removal prompt')
      return { payment, finish }
    },
  },
]

t.test('cancel at every blocking step', async (t) => {
  for (const k of CANCEL_CASES) {
    await t.test(k.state, async (t) => {
      const b = await bridge(t, k.v108 ? v108 : {})
      const pad = b.pads[0]!
      const rec = recorder(pad)
      const c = b.client()
      await initialize(t, c, 'shop')
      const { payment, finish } = await k.arrange(b, c, pad)
      t.ok(matchesState(stateAt(k.state), b.valueOf('device:1') as StateValue), `held in ${k.state}`)
      const mark = rec.mark()
      const cursor = b.trace.length
      const cancel = await c.call('shop', { command: 'cancel' })
      t.equal(cancel.success, true, 'cancel answered')
      pad.faults.responseDelayMs = 0
      const answer = await c.reply(payment)
      if (k.pending) t.match(responseOf(answer), { status: 'canceled' }, 'the pending payment is reported canceled')
      else t.match(responseOf(answer), { status: 'accepted' }, 'the payment was answered before')
      if (finish !== undefined) t.equal((await c.reply(finish)).success, true, 'finish_payment answered once the pinpad is idle')
      if (k.state === 'awaitingFinish') {
        // Not finished: the card is asked out (RMC), then the idle screen.
        await b.reach('device:1', stateAt('removingCard'), cursor)
        await b.until(() => pad.display.screen.source === 'RMC', 'the removal prompt')
        pad.cardholder.remove()
      } else {
        await b.reach('device:1', stateAt('cancelling'), cursor)
        t.ok(rec.since(mark).includes('EOT'), 'the pinpad got CAN and answered EOT', { wire: rec.since(mark) })
      }
      await b.reach('device:1', stateAt('ready'), cursor)
      await b.until(() => pad.display.screen.source === 'DSP', 'the idle screen')
      t.same(pad.display.screen.lines, IDLE_LINES, 'idle message on the display')
      t.match(await statusOf(c, 'shop'), { status: 'initialized', device_state: 'ready' })
      t.equal(b.runtime.vault.size, 0, 'no card data kept')
      if (k.pending) t.match(await c.call('shop', { command: 'finish_payment', success: false }), { success: true }, 'finish_payment after the cancelled payment')
      // The pinpad works again.
      pad.cardholder.options.autoCard = 'visa-credit'
      pad.cardholder.options.autoPin = '1234'
      t.match(responseOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { status: 'accepted' }, 'the next payment goes through')
    })
  }
})

// --- Unplug in every state ------------------------------------------------------------------

interface UnplugCase {
  state: string
  v108?: boolean
  /** Brings the device to `state`; returns the command whose answer is pending, if any. */
  arrange(b: BridgeRig, c: Client, pad: VirtualPinpad): Promise<{ pending?: number; kind?: 'initialize' | 'payment' | 'command' }>
}

const paymentHeld = (state: string, setup: (b: BridgeRig, pad: VirtualPinpad) => void | (() => void), request: Extract<Request, { command: 'process_payment' }> = { command: 'process_payment', amount: 1000 }): UnplugCase => ({
  state,
  async arrange(b, c, pad) {
    await initialize(t, c, 'shop')
    setup(b, pad)
    const pending = c.send('shop', request)
    await b.reach('device:1', stateAt(state))
    return { pending, kind: 'payment' }
  },
})

const UNPLUG_CASES: UnplugCase[] = [
  {
    state: 'syncingTables',
    async arrange(b, c, pad) {
      let gix = 0
      const off = pad.onLinkEvent((e) => {
        // The second GIX asks for the tables' version: hold its answer.
        if (e.type === 'command' && e.id === 'GIX' && ++gix === 2) {
          pad.faults.responseDelayMs = HOLD_MS
          off()
        }
      })
      const pending = c.send('shop', { command: 'initialize', encryption_key: KEY })
      await b.reach('device:1', stateAt('syncingTables'))
      await b.until(() => gix === 2, 'the table version query')
      return { pending, kind: 'initialize' }
    },
  },
  {
    state: 'ready',
    async arrange(b, c) {
      await initialize(t, c, 'shop')
      await b.reach('device:1', stateAt('ready'))
      return {}
    },
  },
  {
    state: 'displaying',
    async arrange(b, c, pad) {
      await initialize(t, c, 'shop')
      onPinpad(pad, 'command', 'DEX', () => (pad.faults.responseDelayMs = HOLD_MS))
      const pending = c.send('shop', { command: 'display_message', message: 'Obrigado\npela preferencia' })
      await b.reach('device:1', stateAt('displaying'))
      return { pending, kind: 'command' }
    },
  },
  {
    state: 'idle',
    async arrange(b, c) {
      await initialize(t, c, 'shop')
      t.equal((await c.call('shop', { command: 'display_message', message: 'OLA' })).success, true)
      await b.reach('device:1', stateAt('idle'))
      return {}
    },
  },
  paymentHeld('awaitingCard', (_b, pad) => void (pad.cardholder.options.autoCard = null)),
  {
    state: 'reloadingTables',
    v108: true,
    async arrange(b, c, pad) {
      await initialize(t, c, 'shop')
      pad.tables.preload('0000000001', factoryTables().records)
      onPinpad(pad, 'response', 'GCR', () => (pad.faults.responseDelayMs = HOLD_MS), '020')
      const pending = c.send('shop', { command: 'process_payment', amount: 1000 })
      await b.reach('device:1', stateAt('reloadingTables'))
      return { pending, kind: 'payment' }
    },
  },
  paymentHeld('onChip', (_b, pad) => void (pad.cardholder.options.autoPin = null)),
  paymentHeld(
    'awaitingPin',
    (_b, pad) => {
      pad.cardholder.options.autoPin = null
      pad.cardholder.present('magstripe-debit')
    },
    { command: 'process_payment', amount: 1000, magstripe_payment_method: 'debit_card' },
  ),
  paymentHeld('processed', (b) => {
    const release = b.sandbox.holdCardHashKey()
    b.clock.setTimeout(release, HOLD_MS)
  }),
  {
    state: 'awaitingFinish',
    async arrange(b, c) {
      await initialize(t, c, 'shop')
      t.match(responseOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { status: 'accepted' })
      await b.reach('device:1', stateAt('awaitingFinish'))
      return {}
    },
  },
  {
    state: 'finishing',
    async arrange(b, c, pad) {
      await initialize(t, c, 'shop')
      t.match(responseOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { status: 'accepted' })
      onPinpad(pad, 'command', 'FCX', () => (pad.faults.responseDelayMs = HOLD_MS))
      const pending = c.send('shop', { command: 'finish_payment', success: true, response_code: '0000' })
      await b.reach('device:1', stateAt('finishing'))
      return { pending, kind: 'command' }
    },
  },
  {
    state: 'removingCard',
    async arrange(b, c, pad) {
      await initialize(t, c, 'shop')
      pad.cardholder.options.autoCard = null
      pad.cardholder.present('visa-credit')
      t.match(responseOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { status: 'accepted' })
      const pending = c.send('shop', { command: 'finish_payment', success: true, response_code: '0000' })
      await b.reach('device:1', stateAt('removingCard'))
      return { pending, kind: 'command' }
    },
  },
  {
    state: 'cancelling',
    async arrange(b, c, pad) {
      await initialize(t, c, 'shop')
      pad.cardholder.options.autoCard = null
      const pending = c.send('shop', { command: 'process_payment', amount: 1000 })
      await b.reach('device:1', stateAt('awaitingCard'))
      // The idle DSP after the CAN/EOT is held.
      onPinpad(pad, 'command', 'DSP', () => (pad.faults.responseDelayMs = HOLD_MS))
      c.send('shop', { command: 'cancel' })
      await b.reach('device:1', stateAt('cancelling'))
      return { pending, kind: 'payment' }
    },
  },
]

t.test('unplug in every state; plugged back, the same device id works again', async (t) => {
  for (const k of UNPLUG_CASES) {
    await t.test(k.state, async (t) => {
      const b = await bridge(t, k.v108 ? v108 : {})
      const pad = b.pads[0]!
      const c = b.client()
      const { pending, kind } = await k.arrange(b, c, pad)
      t.ok(matchesState(stateAt(k.state), b.valueOf('device:1') as StateValue), `in ${k.state}`)
      const events = c.events().length
      b.device(1).unplug()
      pad.faults.responseDelayMs = 0
      if (pending !== undefined) {
        const r = await c.reply(pending)
        // Cancelled before the unplug: it stays cancelled.
        if (k.state === 'cancelling') t.match(responseOf(r), { status: 'canceled' }, 'the cancelled payment is answered canceled')
        else if (kind === 'payment') t.match(responseOf(r), { status: 'errored', error_type: 'MPOS_ERR_LINK_CLOSED' }, 'the payment is answered errored')
        else t.match(errorOf(r), { code: 'MPOS_ERR_DEVICE_DISCONNECTED' }, `the running ${kind} fails: disconnected`)
      }
      await b.until(() => b.valueOf('context:shop') === 'idle', 'the context back to idle')
      t.match(await statusOf(c, 'shop'), { status: 'idle', connected_device_id: null, last_error: { code: 'MPOS_ERR_DEVICE_DISCONNECTED' } })
      await c.event((e) => e.event === 'device_removed', events)
      t.same(responseOf(await c.call('shop', { command: 'list_devices' })), [], 'gone from list_devices')
      t.match(errorOf(await c.call('shop', { command: 'initialize', encryption_key: KEY, device_id: 1 })), { code: 'MPOS_ERR_DEVICE_NOT_FOUND' })

      b.device(1).plug()
      await c.event((e) => e.event === 'device_added' && e.device.id === 1, events)
      pad.cardholder.options.autoCard = 'visa-credit'
      pad.cardholder.options.autoPin = '1234'
      await initialize(t, c, 'shop', { device_id: 1 })
      t.match(await statusOf(c, 'shop'), { status: 'initialized', connected_device_id: 1, device_state: 'ready' })
      t.match(responseOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { status: 'accepted' }, 'a payment after the reconnect')
      t.equal((await c.call('shop', { command: 'finish_payment', success: true, response_code: '0000' })).success, true)
    })
  }
})

// --- Two contexts, one command at a time, order rules -----------------------------------

t.test('two contexts with two virtual pinpads pay at the same time', async (t) => {
  const b = await bridge(t, { pinpads: 2 })
  const [padA, padB] = b.pads as [VirtualPinpad, VirtualPinpad]
  const recA = recorder(padA)
  const recB = recorder(padB)
  const a = b.client()
  const c = b.client()
  await initialize(t, a, 'till-a', { device_id: 1 })
  await initialize(t, c, 'till-b', { device_id: 2 })
  t.match(errorOf(await b.client().call('till-c', { command: 'initialize', encryption_key: KEY, device_id: 1 })), { code: 'MPOS_ERR_DEVICE_IN_USE', message: /till-a/ }, 'a held device')
  t.match(errorOf(await b.client().call('till-c', { command: 'initialize', encryption_key: KEY })), { code: 'MPOS_ERR_NO_DEVICE' }, 'no free device left')
  padA.cardholder.present('visa-credit')
  padB.cardholder.present('mastercard-credit')
  const [ra, rb] = await Promise.all([a.call('till-a', { command: 'process_payment', amount: 1000 }), c.call('till-b', { command: 'process_payment', amount: 2000 })])
  t.match(responseOf(ra), { status: 'accepted' })
  t.match(responseOf(rb), { status: 'accepted' })
  t.equal((await openCardHash(b, ra)).card_number, '4761739001010010', 'till-a got its own card')
  t.equal((await openCardHash(b, rb)).card_number, '5413330089600010', 'till-b got its own card')
  // Both payments were on the pinpads at the same time.
  const [gcxA, goxA, gcxB, goxB] = [recA.log.indexOf('GCX'), recA.log.indexOf('GOX'), recB.log.indexOf('GCX'), recB.log.indexOf('GOX')]
  t.ok(gcxA >= 0 && goxA > gcxA && gcxB >= 0 && goxB > gcxB, 'each pinpad ran its own payment')
  await Promise.all([
    a.call('till-a', { command: 'finish_payment', success: true, response_code: '0000' }),
    c.call('till-b', { command: 'finish_payment', success: true, response_code: '0000' }),
  ])
  t.match(await statusOf(a, 'till-a'), { status: 'initialized', connected_device_id: 1 })
  t.match(await statusOf(c, 'till-b'), { status: 'initialized', connected_device_id: 2 })
  t.equal((await a.call('till-a', { command: 'close' })).success, true)
  await initialize(t, b.client(), 'till-c', { device_id: 1 })
})

t.test('one command at a time: a second one is refused naming the running one', async (t) => {
  const b = await bridge(t)
  const pad = b.pads[0]!
  const c = b.client()
  const other = b.client()
  // While initialize runs (the tables' version answer is held).
  let gix = 0
  pad.onLinkEvent((e) => {
    if (e.type === 'command' && e.id === 'GIX' && ++gix === 2) pad.faults.responseDelayMs = HOLD_MS
  })
  const init = c.send('shop', { command: 'initialize', encryption_key: KEY })
  await b.reach('context:shop', { initializing: 'connecting' })
  t.match(errorOf(await other.call('shop', { command: 'initialize', encryption_key: KEY })), { code: 'MPOS_ERR_CONTEXT_BUSY', message: /initialize is running/ })
  t.match(errorOf(await other.call('shop', { command: 'process_payment', amount: 100 })), { code: 'MPOS_ERR_CONTEXT_BUSY', message: /initialize is running/ })
  t.match(await statusOf(other, 'shop'), { status: 'in_use', running_command: 'initialize' }, 'status always answers')
  pad.faults.responseDelayMs = 0
  t.equal((await c.reply(init)).success, true)

  // While a payment waits for a card.
  pad.cardholder.options.autoCard = null
  const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
  await b.reach('device:1', stateAt('awaitingCard'))
  for (const request of [
    { command: 'process_payment', amount: 500 },
    { command: 'display_message', message: 'OI' },
    { command: 'finish_payment', success: true },
    { command: 'initialize', encryption_key: KEY },
  ] as Request[]) {
    t.match(errorOf(await other.call('shop', request)), { code: 'MPOS_ERR_CONTEXT_BUSY', message: /process_payment is running/ }, `${request.command} refused`)
  }
  t.match(await statusOf(other, 'shop'), { status: 'in_use', running_command: 'process_payment', device_state: 'awaitingCard' })
  pad.cardholder.present('visa-credit')
  t.match(responseOf(await c.reply(payment)), { status: 'accepted' }, 'the running payment is unaffected')
})

t.test('the context: order rules and every state', async (t) => {
  const b = await bridge(t)
  const pad = b.pads[0]!
  const c = b.client()
  const pushed = (from: number) => c.events().slice(from)

  // idle
  t.match(await statusOf(c, 'shop'), { status: 'idle', connected_device_id: null, devices_available: 1, available_devices: 1 })
  for (const request of [{ command: 'process_payment', amount: 100 }, { command: 'display_message', message: 'x' }, { command: 'finish_payment', success: true }, { command: 'cancel' }] as Request[]) {
    t.match(errorOf(await c.call('shop', request)), { code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER', message: /allowed: initialize, status, list_devices, close/ }, `${request.command} before initialize`)
  }
  t.equal((await c.call('shop', { command: 'close' })).success, true, 'close when idle ends the context')
  t.equal(b.valueOf('context:shop'), undefined, 'gone')
  t.match(errorOf(await c.call('shop', { command: 'initialize', encryption_key: KEY, device_id: 7 })), { code: 'MPOS_ERR_DEVICE_NOT_FOUND' }, 'claim denied')
  t.equal(b.valueOf('context:shop'), 'idle')
  t.match(errorOf(await c.call('shop', { command: 'initialize', encryption_key: 'ek_live_refused_by_the_sandbox' })), { code: 'MPOS_ERR_ACQUIRER_UNAUTHORIZED' }, 'connect failed')
  t.match(await statusOf(c, 'shop'), { status: 'idle', last_error: { code: 'MPOS_ERR_ACQUIRER_UNAUTHORIZED' } })

  // initializing.claiming → connecting → initialized.ready
  const cursor = b.trace.length
  await initialize(t, c, 'shop')
  for (const state of [{ initializing: 'claiming' }, { initializing: 'connecting' }, { initialized: { activity: 'ready' } }]) await b.reach('context:shop', state, cursor)
  t.match(errorOf(await c.call('shop', { command: 'initialize', encryption_key: KEY })), { code: 'MPOS_ERR_ALREADY_INITIALIZED' })
  t.match(errorOf(await c.call('shop', { command: 'finish_payment', success: true })), { code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER', message: /allowed: process_payment, display_message/ })
  t.match(errorOf(await c.call('shop', { command: 'cancel' })), { code: 'MPOS_ERR_NOTHING_TO_CANCEL' })

  // displaying
  const shown = c.send('shop', { command: 'display_message', message: 'BEM VINDO' })
  await b.reach('context:shop', { initialized: { activity: 'displaying' } }, cursor)
  t.equal((await c.reply(shown)).success, true)
  t.same(pad.display.screen.lines, ['   BEM VINDO', ''])

  // paying → settling → ready (needs finish); prompts reach the connection as pinpad_message
  let mark = c.events().length
  const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
  await b.reach('context:shop', { initialized: { activity: 'paying' } }, cursor)
  t.match(responseOf(await c.reply(payment)), { status: 'accepted' })
  await b.settle('context:shop', { initialized: { activity: 'ready', obligation: 'finishRequired' } })
  t.ok(pushed(mark).some((e) => e.event === 'pinpad_message' && e.lines.length > 0), 'pinpad prompts pushed')
  t.ok(pushed(mark).some((e) => e.event === 'payment_status' && e.status === 'accepted'), 'payment_status pushed')
  t.ok(pushed(mark).some((e) => e.event === 'status' && e.device_state === 'onChip'), 'device states pushed')
  for (const request of [{ command: 'process_payment', amount: 100 }, { command: 'display_message', message: 'x' }] as Request[]) {
    t.match(errorOf(await c.call('shop', request)), { code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER', message: /allowed: finish_payment, cancel/ }, `${request.command} before finish_payment`)
  }

  // finishing → settling (card removal) → ready
  const finish = c.send('shop', { command: 'finish_payment', success: true, response_code: '0000' })
  await b.reach('context:shop', { initialized: { activity: 'finishing' } }, cursor)
  t.equal((await c.reply(finish)).success, true)
  t.equal(pad.cardholder.inserted, undefined, 'finish_payment answered once the card is out')

  // A failed payment: answered once the card is out; finish_payment is then a no-op.
  pad.cardholder.options.autoPin = null
  pad.cardholder.options.autoCard = null
  pad.cardholder.present('visa-credit')
  const beforeDecline = b.trace.length
  const declined = c.send('shop', { command: 'process_payment', amount: 1000 })
  await b.until(() => pad.display.screen.source === 'PIN', 'the PIN prompt')
  pad.cardholder.press('cancel')
  await b.reach('device:1', stateAt('removingCard'), beforeDecline)
  await b.reach('context:shop', { initialized: { activity: { paying: 'failed' } } }, beforeDecline)
  t.same(await statusOf(c, 'shop').then((s) => [s.status, s.running_command]), ['in_use', 'process_payment'], 'status while settling')
  t.match(errorOf(await c.call('shop', { command: 'display_message', message: 'x' })), { code: 'MPOS_ERR_CONTEXT_BUSY' }, 'refused while the failed payment waits for the card')
  t.equal((await c.call('shop', { command: 'finish_payment', success: false })).success, true, 'finish_payment after a failure, while settling')
  t.equal(c.messages.some((m) => m.kind === 'reply' && m.command_id === declined), false, 'the failed payment waits for the card')
  pad.cardholder.remove()
  t.match(responseOf(await c.reply(declined)), { status: 'canceled', error_code: 13 }, 'then it is answered')
  await b.settle('context:shop', { initialized: { activity: 'ready' } })
  // ready after a failure: process_payment allowed, finish_payment a no-op.
  pad.cardholder.options.autoPin = '1234'
  pad.cardholder.present('visa-credit')
  const p3 = c.send('shop', { command: 'process_payment', amount: 1000 })
  await b.until(() => pad.display.screen.source === 'PIN', 'the PIN prompt')
  pad.cardholder.press('cancel')
  await b.reach('device:1', stateAt('removingCard'))
  pad.cardholder.remove()
  t.match(responseOf(await c.reply(p3)), { status: 'canceled' })
  // The next payment may start without the failed one's (optional) finish_payment.
  pad.cardholder.present('visa-credit')
  const p4 = c.send('shop', { command: 'process_payment', amount: 1000 })
  await b.until(() => pad.display.screen.source === 'PIN', 'the PIN prompt')
  pad.cardholder.press('cancel')
  await b.reach('device:1', stateAt('removingCard'))
  pad.cardholder.remove()
  t.match(responseOf(await c.reply(p4)), { status: 'canceled' }, 'a payment right after a failed one')
  t.equal((await c.call('shop', { command: 'finish_payment', success: false })).success, true, 'finish_payment after a failure, once ready')

  // cancel of an unfinished payment: settling until the card is out; other commands refused meanwhile.
  pad.cardholder.present('visa-credit')
  t.match(responseOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { status: 'accepted' })
  t.equal((await c.call('shop', { command: 'cancel' })).success, true, 'cancel instead of finish_payment')
  await b.reach('device:1', stateAt('removingCard'))
  t.match(errorOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { code: 'MPOS_ERR_CONTEXT_BUSY', message: /still finishing the previous payment/ })
  t.equal((await c.call('shop', { command: 'cancel' })).success, true, 'cancel while settling')
  await b.reach('device:1', stateAt('cancelling'))
  await b.settle('context:shop', { initialized: { activity: 'ready' } })

  // close while settling
  pad.cardholder.present('visa-credit')
  t.match(responseOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { status: 'accepted' })
  const fin = c.send('shop', { command: 'finish_payment', success: true, response_code: '0000' })
  await b.reach('device:1', stateAt('removingCard'))
  await b.settle('context:shop', { initialized: { activity: { finishing: 'settling' } } })
  const closed = c.send('shop', { command: 'close' })
  t.equal((await c.reply(closed)).success, true, 'close while settling')
  t.match(await c.reply(fin), { success: true }, 'the interrupted finish_payment is answered with its outcome (FCX was done; only the removal was left)')
  t.equal(b.valueOf('context:shop'), undefined, 'close ended the context')
  t.same(pad.display.screen.lines, ['    OBRIGADO', ''], 'CLO message')

  // closing with a payment in flight: the payment is answered canceled.
  await initialize(t, c, 'shop')
  const inFlight = c.send('shop', { command: 'process_payment', amount: 1000 })
  await b.reach('device:1', stateAt('awaitingCard'))
  t.equal((await c.call('shop', { command: 'close' })).success, true)
  t.match(responseOf(await c.reply(inFlight)), { status: 'canceled' })

  // devices_available follows the registry.
  mark = c.events().length
  b.device(1).unplug()
  await c.event((e) => e.event === 'device_removed', mark)
  t.match(await statusOf(c, 'shop'), { devices_available: 0 })
  b.device(1).plug()
  await c.event((e) => e.event === 'device_added', mark)
  t.match(await statusOf(c, 'shop'), { devices_available: 1 })
})

t.test('a command interrupted by close is answered', async (t) => {
  const b = await bridge(t)
  const pad = b.pads[0]!
  const c = b.client()
  await initialize(t, c, 'shop')
  onPinpad(pad, 'command', 'DSP', () => (pad.faults.responseDelayMs = HOLD_MS))
  const shown = c.send('shop', { command: 'display_message', message: 'UM MOMENTO' })
  await b.reach('context:shop', { initialized: { activity: 'displaying' } })
  const close = c.send('shop', { command: 'close' })
  t.equal((await c.reply(close)).success, true)
  pad.faults.responseDelayMs = 0
  const r = await c.reply(shown)
  t.equal(r.success, false, 'display_message did not complete')
  t.match(errorOf(r), { code: 'MPOS_ERR_CONTEXT_CLOSED' })
})

t.test('a notice the device no longer sends in that state is still handled (injected)', async (t) => {
  // The device leaves `connected` (where it reports DISCONNECTED) as soon as it gets CLOSE, so a
  // closing context cannot hear DISCONNECTED any more; the handler is kept as a guard and checked
  // here by sending the notice to the live context while its pinpad answers CLO slowly.
  const b = await bridge(t)
  const pad = b.pads[0]!
  const c = b.client()
  await initialize(t, c, 'shop')
  onPinpad(pad, 'command', 'CLO', () => (pad.faults.responseDelayMs = HOLD_MS))
  const close = c.send('shop', { command: 'close' })
  await b.reach('context:shop', 'closing')
  const ctx = b.runtime.root.system.get('context:shop')!
  ctx.send({ type: 'DEVICE.DISCONNECTED', reason: 'injected' })
  t.match(await c.reply(close), { success: true }, 'close answered')
  t.equal(b.valueOf('context:shop'), undefined, 'close ended the context')
  t.same(b.runtime.root.getSnapshot().context.claims, {}, 'the device is released')
  pad.faults.responseDelayMs = 0
  await initialize(t, c, 'shop', { device_id: 1 })
})

t.test('shutdown in every context state', async (t) => {
  for (const where of ['idle', 'connecting', 'ready', 'paying'] as const) {
    await t.test(where, async (t) => {
      const b = await bridge(t)
      const pad = b.pads[0]!
      const c = b.client()
      let pending: number | undefined
      if (where === 'connecting') {
        pad.faults.responseDelayMs = HOLD_MS
        pending = c.send('shop', { command: 'initialize', encryption_key: KEY })
        await b.reach('device:1', 'connecting')
      } else if (where !== 'idle') await initialize(t, c, 'shop')
      else t.equal((await c.call('shop', { command: 'status' })).success, true)
      if (where === 'paying') {
        pad.cardholder.options.autoCard = null
        pending = c.send('shop', { command: 'process_payment', amount: 1000 })
        await b.reach('device:1', stateAt('awaitingCard'))
      }
      const started = b.clock.now()
      await b.runtime.shutdown(10_000)
      const last = b.trace.filter((e) => e.actor === 'context:shop').at(-1)
      t.equal(last?.value, 'idle', 'the context ended idle')
      t.ok(b.clock.now() - started < 10_000, 'shutdown did not need its deadline')
      if (pending !== undefined) t.ok(c.messages.some((m) => m.kind === 'reply' && m.command_id === pending), 'what ran was answered')
      if (where === 'paying') t.match(responseOf(c.messages.find((m): m is ReplyMessage => m.kind === 'reply' && m.command_id === pending)!), { status: 'canceled' })
      // Shut down while the port was still being opened: the identification is cancelled instead.
      if (where !== 'idle' && where !== 'connecting') t.equal(pad.display.screen.source, 'CLO', 'the pinpad got CLO')
      if (where === 'connecting') t.match(errorOf(c.messages.find((m): m is ReplyMessage => m.kind === 'reply' && m.command_id === pending)!), { code: 'MPOS_ERR_CONTEXT_CLOSED' }, 'initialize answered: interrupted')
    })
  }
})

// --- Sessions and the connection-drop policy -------------------------------------------

t.test('sessions: replies by command_id, events, close', async (t) => {
  const b = await bridge(t)
  const c = b.client()
  const id = c.send('shop', { command: 'list_devices' })
  const r = await c.reply(id)
  t.match(r, { kind: 'reply', command: 'list_devices', success: true, command_id: id, context: 'shop' })
  t.match(responseOf(r), [{ id: 1, name: 'MOBI PIN 10 (virtual)', manufacturer: 'Gertec', kind: 'virtual' }])
  await initialize(t, c, 'shop')
  t.ok(c.events().some((e) => e.event === 'status' && e.context === 'shop' && e.status === 'initialized'), 'status pushed to the connection that used the context')
  const watcher = b.client()
  t.equal(watcher.events().length, 0, 'nothing pushed to a connection that never used the context')
  // Its session actor exists once it has asked something (an idle connection has none).
  await watcher.reply(watcher.send('elsewhere', { command: 'display_message', message: 'hi' }))
  const sessionId = `session:${b.runtime.sessionCount}`
  t.equal(b.valueOf(sessionId), 'open')
  watcher.close()
  await b.until(() => b.valueOf(sessionId) === undefined, 'the session stopped')
  t.notOk(sessionId in (b.runtime.root.getSnapshot().children as object), 'no longer a child of the bridge')
  t.notOk(sessionId.slice('session:'.length) in b.runtime.root.getSnapshot().context.sessions, 'nor in its list')
  t.same(Object.keys(b.runtime.root.getSnapshot().context.sessions), ['1'], 'the bridge forgot the closed session')
})

t.test('a connection drops: its payment runs on (the journal keeps its answer)', async (t) => {
  await t.test('the only connection goes: the payment runs on, nothing is cancelled on the pinpad', async (t) => {
    const b = await bridge(t)
    const pad = b.pads[0]!
    const rec = recorder(pad)
    const c = b.client()
    await initialize(t, c, 'shop')
    pad.cardholder.options.autoCard = null
    c.send('shop', { command: 'process_payment', amount: 1000 })
    await b.reach('device:1', stateAt('awaitingCard'))
    const mark = rec.mark()
    c.close()
    await b.until(() => b.runtime.sessionCount === 0, 'the page gone')
    await b.clock.sleep(50)
    t.ok(matchesState(stateAt('awaitingCard'), b.valueOf('device:1') as StateValue), 'the payment still waits for the card')
    t.notOk(rec.since(mark).includes('EOT'), 'no CAN/EOT on the pinpad')
    pad.cardholder.options.autoCard = 'visa-credit'
    pad.cardholder.present('visa-credit')
    await b.reach('device:1', stateAt('awaitingFinish'))
    const other = b.client()
    t.match(await statusOf(other, 'shop'), { status: 'initialized', device_state: 'awaitingFinish' }, 'the customer finished: it awaits finish_payment')
  })

  await t.test('another connection is attached: the payment goes on and it gets the events', async (t) => {
    const b = await bridge(t)
    const pad = b.pads[0]!
    const payer = b.client()
    const till = b.client()
    await initialize(t, payer, 'shop')
    t.match(await statusOf(till, 'shop'), { status: 'initialized' }, 'the second connection attaches')
    pad.cardholder.options.autoCard = null
    payer.send('shop', { command: 'process_payment', amount: 1000 })
    await b.reach('device:1', stateAt('awaitingCard'))
    const mark = till.events().length
    payer.close()
    await b.until(() => b.runtime.sessionCount === 1, 'the payer gone')
    await b.clock.sleep(50)
    t.ok(matchesState(stateAt('awaitingCard'), b.valueOf('device:1') as StateValue), 'the payment still waits for the card')
    pad.cardholder.options.autoCard = 'visa-credit' // (also takes the card back when asked)
    pad.cardholder.present('visa-credit')
    const status = await till.event((e: PushEvent) => e.event === 'payment_status', mark)
    t.match(status, { event: 'payment_status', context: 'shop', status: 'accepted' }, 'the other connection hears the result')
    t.equal((await till.call('shop', { command: 'finish_payment', success: true, response_code: '0000' })).success, true, 'and finishes it')
  })

  await t.test('the payer left first, then the last attached connection: the payment still runs on', async (t) => {
    const b = await bridge(t)
    const pad = b.pads[0]!
    const payer = b.client()
    const till = b.client()
    await initialize(t, payer, 'shop')
    await statusOf(till, 'shop')
    pad.cardholder.options.autoCard = null
    payer.send('shop', { command: 'process_payment', amount: 1000 })
    await b.reach('device:1', stateAt('awaitingCard'))
    payer.close()
    await b.until(() => b.runtime.sessionCount === 1, 'the payer gone')
    till.close()
    await b.until(() => b.runtime.sessionCount === 0, 'both gone')
    await b.clock.sleep(50)
    t.ok(matchesState(stateAt('awaitingCard'), b.valueOf('device:1') as StateValue), 'the payment still waits for the card')
    pad.cardholder.options.autoCard = 'visa-credit'
    pad.cardholder.present('visa-credit')
    await b.reach('device:1', stateAt('awaitingFinish'))
  })
})

t.test("context names that are Object.prototype's keys are names like any other", async (t) => {
  // A name from the wire indexes the bridge's records: `__proto__` or `toString` must not find
  // Object.prototype's members there (that used to make the bridge actor itself fail).
  const b = await bridge(t)
  const c = b.client()
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    t.match(await statusOf(c, name), { status: 'idle' }, `status of "${name}"`)
    t.equal(b.valueOf(`context:${name}`), 'idle', `a context "${name}" lives`)
  }
  await initialize(t, c, '__proto__')
  t.match(await statusOf(c, '__proto__'), { status: 'initialized', connected_device_id: 1 })
  t.equal((await c.call('__proto__', { command: 'close' })).success, true, 'and closes')
  t.equal(b.valueOf('context:__proto__'), undefined)
  t.equal(b.runtime.root.getSnapshot().status, 'active', 'the bridge lives')
  t.match(await statusOf(c, 'shop'), { status: 'idle' }, 'and serves the other names')
})

// --- Card data and keys ---------------------------------------------------------------

t.test('no snapshot of any machine holds card data; inspection hides the encryption key', async (t) => {
  const b = await bridge(t)
  const pad = b.pads[0]!
  const c = b.client()
  await initialize(t, c, 'shop')
  const from = b.raw.length
  const inspectedFrom = b.inspected.length
  pad.cardholder.present('visa-credit')
  const r = await c.call('shop', { command: 'process_payment', amount: 1000 })
  const hash = responseOf(r).card_hash as string
  await c.call('shop', { command: 'finish_payment', success: true, response_code: '0000' })
  pad.cardholder.options.autoPin = null
  pad.cardholder.present('magstripe-debit')
  const debit = c.send('shop', { command: 'process_payment', amount: 1000, magstripe_payment_method: 'debit_card' })
  await b.reach('device:1', stateAt('awaitingPin'))
  c.send('shop', { command: 'cancel' })
  await c.reply(debit)

  const card = findCard('visa-credit')
  const snapshots = b.raw.slice(from)
  t.ok(snapshots.length > 50, `${snapshots.length} snapshots and events seen`)
  for (const pan of [card.pan, findCard('magstripe-debit').pan]) {
    t.notOk(snapshots.some((s) => s.includes(pan)), `no snapshot or event holds the PAN ${pan.slice(0, 6)}…`)
  }
  t.notOk(snapshots.some((s) => /\d{12,19}[=D]\d{4}/.test(s)), 'no track 2 anywhere')
  const machineSnapshots = b.trace.length
  t.ok(machineSnapshots > 20)
  const contexts = b.machineContexts.join('\n')
  t.notOk(contexts.includes(hash), 'the card hash never enters a machine context')
  t.notOk(contexts.includes(card.pan), 'nor the PAN')
  t.ok(contexts.includes(KEY), 'while the raw contexts do hold the encryption key (sanitize must hide it)')
  const sanitized = JSON.stringify(b.inspected.slice(inspectedFrom))
  t.notOk(sanitized.includes(card.pan), 'nor what the runtime inspector gives')
  t.notOk(sanitized.includes(KEY), 'the inspector never sees the encryption key')
  t.notOk(sanitized.includes(hash), 'nor the card hash')
  t.ok(sanitized.includes('[hidden]'), 'it says what it hid')
  t.notOk(JSON.stringify(b.runtime.contexts()).includes(KEY), 'nor does /status')
})

t.test('sanitize hides keys and card references, and shows actors by name', async (t) => {
  const out = sanitize({
    connect: { encryptionKey: KEY, simpleInitialize: true },
    request: { command: 'initialize', encryption_key: KEY },
    payment: { cardRef: 'card-123', card: { chip: true }, result: { status: 'accepted', card_hash: '1_abc' } },
    owner: Object.assign(Object.create({ x: 1 }), { id: 'context:shop' }),
    list: [{ cardHash: 'x' }],
  })
  t.same(out, {
    connect: { encryptionKey: '[hidden]', simpleInitialize: true },
    request: { command: 'initialize', encryption_key: '[hidden]' },
    payment: { cardRef: '[hidden]', card: { chip: true }, result: { status: 'accepted', card_hash: '[hidden]' } },
    owner: '[actor context:shop]',
    list: [{ cardHash: '[hidden]' }],
  })
  t.notOk(JSON.stringify(out).includes(KEY))
})

// --- Faults: a failing actor is removed alone ---------------------------------------------

t.test('a failing actor is contained: its requests are answered, its pinpad let go, the rest goes on', async (t) => {
  const b = await bridge(t, { pinpads: 2 })
  const c = b.client()
  const faults: string[] = []
  const other = b.client()
  await initialize(t, c, 'shop', { device_id: 1 })
  await initialize(t, other, 'front', { device_id: 2 })

  // The context: a payment waits for the card when its actor fails (a malformed event stands for a bug).
  b.pads[0]!.cardholder.options.autoCard = null
  const paying = c.send('shop', { command: 'process_payment', amount: 1000 })
  await b.reach('device:1', stateAt('awaitingCard'))
  b.runtime.root.system.get('context:shop')!.send({ type: 'REQUEST' } as never)
  t.match(await c.reply(paying), { success: false, error: { code: 'MPOS_ERR_INTERNAL' } }, 'the payment in flight is answered MPOS_ERR_INTERNAL')
  t.equal(b.valueOf('context:shop'), undefined, 'the failed context is gone')
  t.same(b.runtime.root.getSnapshot().context.claims, { 2: 'front' }, 'its pinpad is released')
  t.match((await other.call('front', { command: 'status' })).response, { status: 'initialized' }, 'another context is untouched')
  b.pads[0]!.cardholder.options.autoCard = 'visa-credit'
  await initialize(t, c, 'shop', { device_id: 1 })
  t.match(responseOf(await c.call('shop', { command: 'process_payment', amount: 1000 })), { status: 'accepted' }, 'the same name and pinpad work again')
  t.equal((await c.call('shop', { command: 'finish_payment', success: true, response_code: '0000' })).success, true)

  // The device actor: its context answers what ran, reports the fault and goes idle.
  b.pads[0]!.cardholder.options.autoCard = null
  const second = c.send('shop', { command: 'process_payment', amount: 1000 })
  await b.reach('device:1', stateAt('awaitingCard'))
  b.runtime.root.system.get('device:1')!.send({ type: 'xstate.done.actor.readCard' } as never)
  t.match(responseOf(await c.reply(second)), { status: 'errored', error_type: 'MPOS_ERR_INTERNAL' }, 'the payment is answered')
  await b.until(() => b.valueOf('context:shop') === 'idle', 'the context idle after its device failed')
  b.pads[0]!.cardholder.options.autoCard = 'visa-credit'
  t.match(await statusOf(c, 'shop'), { status: 'idle', connected_device_id: null, last_error: { code: 'MPOS_ERR_INTERNAL' } })
  await initialize(t, c, 'shop', { device_id: 1 })

  // A session: only its connection is closed; the contexts forget it.
  const lone = b.client()
  t.equal((await lone.call('front', { command: 'status' })).success, true)
  b.runtime.root.system.get(`session:${lone.id}`)!.send({ type: 'CONTEXT.REPLY' } as never)
  await b.until(() => lone.faulted, 'the failed session reported')
  faults.push('session')
  t.equal(b.runtime.root.system.get(`session:${lone.id}`), undefined, 'the session is gone')
  t.match((await other.call('front', { command: 'status' })).response, { status: 'initialized' }, 'other connections are served')
  t.match((await c.call('shop', { command: 'status' })).response, { status: 'initialized' })
  t.same(faults, ['session'])
})

// --- Customer prompts (pinpad_menu, pinpad_input) ------------------------------------------

t.test('customer prompts: answered, cancelled, busy, orphaned, refused by a 1.x pinpad; the typed value in no snapshot', async (t) => {
  const b = await bridge(t, { pinpads: 2 })
  const [pad, pad2] = [b.pads[0]!, b.pads[1]!]
  const c = b.client()
  const other = b.client()
  await initialize(t, c, 'shop', { device_id: 1 })
  t.equal((await other.call('shop', { command: 'status' })).success, true, 'another connection attached')

  // Answered at once: the device is ready again when the answer comes.
  pad.cardholder.choose(2)
  const cursor = b.trace.length
  t.same((await c.call('shop', { command: 'pinpad_menu', title: 'PAGAMENTO', options: ['CREDITO', 'DEBITO'] })).response, { index: 1, option: 'DEBITO' })
  await b.reach('context:shop', { initialized: { activity: { prompting: 'asking' } } }, cursor)
  await b.reach('device:1', stateAt('awaitingChoice'), cursor)
  t.match(await statusOf(c, 'shop'), { status: 'initialized', device_state: 'ready' })

  // The typed value: in the answer, in no machine's context.
  pad.cardholder.enter(TYPED_VALUES.cpf)
  t.same((await c.call('shop', { command: 'pinpad_input', prompt: 'cpf' })).response, { value: TYPED_VALUES.cpf })
  t.notOk(b.machineContexts.some((x) => x.includes(TYPED_VALUES.cpf)), 'no snapshot context holds what the customer typed')

  // Busy while it runs; cancel from the POS: answered once the pinpad confirmed the CAN (unwinding).
  const asking = c.send('shop', { command: 'pinpad_input', prompt: 'phone' })
  await b.reach('device:1', stateAt('awaitingInput'))
  t.match(await statusOf(other, 'shop'), { status: 'in_use', running_command: 'pinpad_input', device_state: 'awaitingInput' })
  t.match(errorOf(await other.call('shop', { command: 'display_message', message: 'OI' })), { code: 'MPOS_ERR_CONTEXT_BUSY', message: /pinpad_input is running/ })
  const beforeCancel = b.trace.length
  t.equal((await other.call('shop', { command: 'cancel' })).success, true, 'cancel answered')
  t.match(errorOf(await c.reply(asking)), { code: 'MPOS_ERR_PROMPT_CANCELED' })
  await b.reach('context:shop', { initialized: { activity: { prompting: 'unwinding' } } }, beforeCancel)
  await b.reach('device:1', stateAt('cancelling'), beforeCancel)
  t.match(await statusOf(c, 'shop'), { status: 'initialized', device_state: 'ready' })

  // The last connection of a context goes while the customer is asked: the prompt is cancelled.
  const lone = b.client()
  await initialize(t, lone, 'front', { device_id: 2 })
  const eots = recorder(pad2)
  lone.send('front', { command: 'pinpad_menu', options: ['SIM', 'NAO'] })
  await b.reach('device:2', stateAt('awaitingChoice'))
  const mark = eots.mark()
  lone.close()
  await b.reach('device:2', stateAt('cancelling'))
  await b.until(() => eots.since(mark).includes('EOT'), 'the CAN confirmed')
  await b.settle('device:2', stateAt('ready'))
  t.match(b.valueOf('context:front'), { initialized: { activity: 'ready' } }, 'the context keeps its pinpad, ready')

  // A 1.x pinpad: refused by the context, nothing sent.
  const old = await bridge(t, v108)
  const o = old.client()
  await initialize(t, o, 'shop')
  const rec = recorder(old.pads[0]!)
  for (const request of [{ command: 'pinpad_menu', options: ['A'] }, { command: 'pinpad_input', prompt: 'cpf' }] as Request[]) {
    t.match(errorOf(await o.call('shop', request)), { code: 'MPOS_ERR_NOT_SUPPORTED', message: /ABECS 1\.08/ }, `${request.command} on 1.08`)
  }
  t.match(errorOf(await o.call('shop', { command: 'finish_payment', success: true })), { message: /allowed: process_payment, display_message, status/ }, 'not listed as allowed on a 1.x pinpad')
  t.notOk(rec.ids().some((id) => id === 'MNU' || id === 'GCD'), 'nothing sent')
})

// --- Coverage -------------------------------------------------------------------------------

t.test('coverage of the context, session and bridge machines by the tests above', async (t) => {
  for (const name of ['context', 'session', 'bridge'] as const) {
    const cov = coverage[name]
    t.same(cov.missingStates(), [], `${name}: every state node visited`)
    t.same(cov.missingTransitions(), [], `${name}: every transition taken`)
    t.comment(cov.summary())
  }
  t.comment(`(device, by these scenarios: ${coverage.device.summary()})`)
})
