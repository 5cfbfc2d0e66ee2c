/**
 * The fault matrix: the device brought into each state where it holds a link (the pinpad holding
 * its answer where a command runs), one fault injected there, everything let go, and then:
 * every request got exactly one answer, the context and the device agree, no card data is kept,
 * and the next initialize (when needed) and payment succeed. One test file per fault.
 *
 * On the rig's clock (bridge-rig.ts): the pauses below and every timeout the faults set off take
 * no real time, and happen at the same point of the clock on every run.
 */
import type { Test } from 'tap'
import type { Request } from '../../../machines/protocol.js'
import type { VirtualPinpad } from '../../../src/simulator/virtual-pinpad.js'
import { factoryTables } from '../../../src/simulator/defaults.js'
import { KEY, startBridge, type BridgeRig, type Client, type ReplyMessage } from './bridge-rig.js'
import { at as stateAt } from './device-states.js'
import { startSandbox, type Sandbox } from './sandbox.js'

export type Fault = 'unplug' | 'silence' | 'garbage' | 'nak-storm' | 'can-race'

/** The customer's time in these payments: short, so that a silent pinpad's deadline comes soon. */
const PAYMENT_TIMEOUT_MS = 1000
/** A prompt's: short too, with room for the answer given when the fault is let go. */
const PROMPT_TIMEOUT_MS = 2000

interface Held {
  /** Requests sent while arranging whose answers may still come. */
  pending: number[]
  /** A command is running on the pinpad (its answer held). */
  commandRunning: boolean
  /** Undoes what keeps the device in the state (held answers, a slow acquirer, an idle cardholder). */
  release(): void
}

interface Case {
  state: string
  v108?: boolean
  /** Where nothing runs on the pinpad: the POS's next request, which meets the fault. */
  next?: Request
  arrange(b: BridgeRig, c: Client, pad: VirtualPinpad): Promise<Held>
}

const payment = (extra: Partial<Extract<Request, { command: 'process_payment' }>> = {}): Request => ({ command: 'process_payment', amount: 1000, timeout_milliseconds: PAYMENT_TIMEOUT_MS, ...extra })

/** Holds the pinpad's answers from the moment it receives `id` (the `nth` time). */
function holdOn(pad: VirtualPinpad, id: string, nth = 1): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const off = pad.onLinkEvent((e) => {
      if (e.type !== 'command' || e.id !== id || ++seen < nth) return
      pad.faults.held = true
      off()
      resolve()
    })
  })
}

const releaseAll = (pad: VirtualPinpad) => () => {
  pad.faults.held = false
  pad.cardholder.options.autoCard = 'visa-credit'
  pad.cardholder.options.autoPin = '1234'
}

async function initialize(c: Client, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await c.call('shop', { command: 'initialize', encryption_key: KEY, device_id: 1, ...extra } as Request)
  if (!r.success) throw new Error(`initialize failed: ${JSON.stringify(r)}`)
}

async function accepted(c: Client, request: Request = payment()): Promise<void> {
  const r = await c.call('shop', request)
  if ((r as { response?: { status?: string } }).response?.status !== 'accepted') throw new Error(`payment not accepted: ${JSON.stringify(r)}`)
}

export const CASES: Case[] = [
  {
    state: 'connecting',
    async arrange(b, c, pad) {
      const held = holdOn(pad, 'OPN')
      const pending = [c.send('shop', { command: 'initialize', encryption_key: KEY, device_id: 1 })]
      await held
      await b.reach('device:1', 'connecting')
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'syncingTables',
    async arrange(b, c, pad) {
      const held = holdOn(pad, 'GIX', 2) // the second GIX asks for the tables' version
      const pending = [c.send('shop', { command: 'initialize', encryption_key: KEY, device_id: 1 })]
      await held
      await b.reach('device:1', stateAt('syncingTables'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'ready',
    next: payment(),
    async arrange(b, c, pad) {
      await initialize(c)
      await b.settle('device:1', stateAt('ready'))
      await b.until(() => pad.display.screen.source === 'DSP', 'the idle screen')
      return { pending: [], commandRunning: false, release: releaseAll(pad) }
    },
  },
  {
    state: 'displaying',
    async arrange(b, c, pad) {
      await initialize(c)
      const held = holdOn(pad, 'DSP')
      await b.until(() => pad.display.screen.source === 'DSP', 'the idle screen')
      const pending = [c.send('shop', { command: 'display_message', message: 'UM MOMENTO' })]
      await held
      await b.settle('device:1', stateAt('displaying'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'idle',
    next: payment(),
    async arrange(b, c, pad) {
      await initialize(c)
      await b.until(() => pad.display.screen.source === 'DSP', 'the idle screen')
      const r = await c.call('shop', { command: 'display_message', message: 'OLA' })
      if (!r.success) throw new Error('display_message failed')
      await b.settle('device:1', stateAt('idle'))
      return { pending: [], commandRunning: false, release: releaseAll(pad) }
    },
  },
  {
    state: 'awaitingChoice',
    async arrange(b, c, pad) {
      await initialize(c)
      const pending = [c.send('shop', { command: 'pinpad_menu', options: ['CREDITO', 'DEBITO'], timeout_milliseconds: PROMPT_TIMEOUT_MS })]
      await b.reach('device:1', stateAt('awaitingChoice'))
      return {
        pending,
        commandRunning: true,
        release: () => {
          releaseAll(pad)()
          pad.cardholder.choose(1)
        },
      }
    },
  },
  {
    state: 'awaitingInput',
    async arrange(b, c, pad) {
      await initialize(c)
      const pending = [c.send('shop', { command: 'pinpad_input', prompt: 'table_number', timeout_milliseconds: PROMPT_TIMEOUT_MS })]
      await b.reach('device:1', stateAt('awaitingInput'))
      return {
        pending,
        commandRunning: true,
        release: () => {
          releaseAll(pad)()
          pad.cardholder.enter('12')
        },
      }
    },
  },
  {
    state: 'awaitingCard',
    async arrange(b, c, pad) {
      await initialize(c)
      pad.cardholder.options.autoCard = null
      const pending = [c.send('shop', payment())]
      await b.reach('device:1', stateAt('awaitingCard'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'reloadingTables',
    v108: true,
    async arrange(b, c, pad) {
      await initialize(c)
      pad.tables.preload('0000000001', factoryTables().records)
      const held = holdOn(pad, 'TLI')
      const pending = [c.send('shop', payment())]
      await held
      await b.reach('device:1', stateAt('reloadingTables'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'onChip',
    async arrange(b, c, pad) {
      await initialize(c)
      pad.cardholder.options.autoPin = null
      const pending = [c.send('shop', payment())]
      await b.reach('device:1', stateAt('onChip'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'awaitingPin',
    async arrange(b, c, pad) {
      await initialize(c)
      pad.cardholder.options.autoPin = null
      pad.cardholder.present('magstripe-debit')
      const pending = [c.send('shop', payment({ magstripe_payment_method: 'debit_card' }))]
      await b.reach('device:1', stateAt('awaitingPin'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'processed',
    async arrange(b, c, pad) {
      await initialize(c)
      const releaseKey = b.sandbox.holdCardHashKey()
      const pending = [c.send('shop', payment())]
      await b.reach('device:1', stateAt('processed'))
      return {
        pending,
        commandRunning: false,
        release: () => {
          releaseKey()
          releaseAll(pad)()
        },
      }
    },
  },
  {
    state: 'awaitingFinish',
    next: { command: 'finish_payment', success: true, response_code: '0000' },
    async arrange(b, c, pad) {
      await initialize(c)
      await accepted(c)
      await b.settle('device:1', stateAt('awaitingFinish'))
      return { pending: [], commandRunning: false, release: releaseAll(pad) }
    },
  },
  {
    state: 'finishing',
    async arrange(b, c, pad) {
      await initialize(c)
      await accepted(c)
      const held = holdOn(pad, 'FCX')
      const pending = [c.send('shop', { command: 'finish_payment', success: true, response_code: '0000' })]
      await held
      await b.reach('device:1', stateAt('finishing'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'removingCard',
    async arrange(b, c, pad) {
      await initialize(c)
      pad.cardholder.options.autoCard = null
      pad.cardholder.present('visa-credit')
      await accepted(c)
      const pending = [c.send('shop', { command: 'finish_payment', success: true, response_code: '0000' })]
      await b.reach('device:1', stateAt('removingCard'))
      return {
        pending,
        commandRunning: true,
        release: () => {
          releaseAll(pad)()
          pad.cardholder.remove()
        },
      }
    },
  },
  {
    state: 'cancelling',
    async arrange(b, c, pad) {
      await initialize(c)
      pad.cardholder.options.autoCard = null
      const pending = [c.send('shop', payment())]
      await b.reach('device:1', stateAt('awaitingCard'))
      const held = holdOn(pad, 'DSP') // the idle screen after the CAN/EOT
      pending.push(c.send('shop', { command: 'cancel' }))
      await held
      await b.reach('device:1', stateAt('cancelling'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'timingOut',
    async arrange(b, c, pad) {
      await initialize(c)
      pad.cardholder.options.autoCard = null
      await b.until(() => pad.display.screen.source === 'DSP', 'the idle screen')
      // The pinpad's answers held from GCX on: its own ST_TIMEOUT (SPE_TIMEOUT, 1 s) never comes
      // out, so the host's deadline passes; the idle screen after that deadline's CAN/EOT is held.
      const held = holdOn(pad, 'GCX')
      const pending = [c.send('shop', payment())]
      await held
      await b.reach('device:1', stateAt('timingOut'))
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
  {
    state: 'closing',
    async arrange(b, c, pad) {
      await initialize(c)
      const held = holdOn(pad, 'CLO')
      const pending = [c.send('shop', { command: 'close' })]
      await held
      await b.reach('device:1', 'closing')
      return { pending, commandRunning: true, release: releaseAll(pad) }
    },
  },
]

/** Injects the fault; returns what undoes it once its consequences are answered. */
function inject(fault: Fault, b: BridgeRig, c: Client, pad: VirtualPinpad, held: Held, next: Request | undefined): () => void {
  // Where nothing runs, the POS's next request is what meets the fault.
  const meet = () => {
    if (next) held.pending.push(c.send('shop', next))
  }
  switch (fault) {
    case 'unplug':
      b.device(1).unplug()
      meet()
      return () => b.device(1).plug()
    case 'silence':
      // Out of Bluetooth range with the port still open: nothing comes back, not even to CAN.
      pad.faults.stalled = true
      meet()
      return () => (pad.faults.stalled = false)
    case 'garbage':
      // Line noise before the next answer, and that answer corrupted: NAK, the pinpad sends it again.
      pad.faults.garbageNext = 64
      pad.faults.corruptNext = 1
      meet()
      return () => {
        pad.faults.garbageNext = 0
        pad.faults.corruptNext = 0
      }
    case 'nak-storm':
      // The next commands are NAKed, three times each: the host gives up on them one by one.
      pad.faults.nakNext = 9
      meet()
      return () => (pad.faults.nakNext = 0)
    case 'can-race':
      // The POS cancels just as the pinpad's answer goes out: CAN and the answer cross on the wire.
      held.pending.push(c.send('shop', { command: 'cancel' }))
      pad.faults.held = false
      meet()
      return () => {}
  }
}

/** How long (on the clock) the context may take to settle after the fault. */
const FAIL_AFTER_MS = 30_000

async function settle(b: BridgeRig, c: Client): Promise<Record<string, unknown>> {
  const deadline = b.clock.now() + FAIL_AFTER_MS
  for (;;) {
    const r = await c.call('shop', { command: 'status' })
    const s = (r as { response?: Record<string, unknown> }).response ?? {}
    const settled = s.status === 'idle' || (s.status === 'initialized' && ['ready', 'awaitingFinish'].includes(String(s.device_state)))
    if (settled) return s
    if (b.clock.now() > deadline) throw new Error(`the context never settled: ${JSON.stringify(s)} (device ${JSON.stringify(b.valueOf('device:1'))})`)
    await b.clock.sleep(50)
  }
}

export async function runMatrix(t: Test, fault: Fault): Promise<void> {
  let sandbox: Sandbox
  t.before(async () => {
    sandbox = await startSandbox(t)
  })
  for (const k of CASES) {
    await t.test(`${fault} in ${k.state}`, async (t) => {
      const b = await startBridge(t, {
        sandbox,
        runtime: {
          linkTimings: { ackTimeoutMs: 400, cancelTimeoutMs: 400, maxCancels: 2, responseTimeoutMs: 1500, silenceMs: 100 },
          ...(k.v108 ? { simulator: { identity: { specVersion: '1.08' } } } : {}),
        },
      })
      const pad = b.pads[0]!
      const c = b.client()
      const held = await k.arrange(b, c, pad)
      const undo = inject(fault, b, c, pad, held, k.next)
      // The fault meets the device where it was put; then what held it there lets go.
      await b.clock.sleep(20)
      held.release()
      const answers: ReplyMessage[] = await Promise.all(held.pending.map((id) => c.reply(id)))
      undo()
      if (pad.cardholder.inserted) pad.cardholder.remove()

      // One clear answer per request.
      const status = await settle(b, c)
      await b.clock.sleep(50)
      for (const id of held.pending) t.equal(c.messages.filter((m) => m.kind === 'reply' && m.command_id === id).length, 1, `request ${id} answered once`)
      for (const a of answers) {
        if (!a.success) t.match(a, { error: { code: /^MPOS_ERR_[A-Z_]+$/ } }, `${a.command}: a coded error`)
        if (a.command === 'process_payment' && a.success) t.match((a as { response?: unknown }).response, { status: /^(accepted|rejected|errored|canceled)$/ }, 'a payment status')
      }
      // The context and the device agree; the pinpad is held only by an initialized context.
      const claims = b.runtime.root.getSnapshot().context.claims as Record<number, string>
      if (status.status === 'idle') {
        t.equal(claims[1], undefined, 'an idle context holds no pinpad')
        t.equal(b.valueOf('device:1'), undefined, 'and has no device actor')
      } else {
        t.equal(claims[1], 'shop', 'an initialized context holds its pinpad')
      }
      t.equal(b.runtime.vault.size, 0, 'no card data kept')
      t.comment(`${fault} in ${k.state}: ${answers.map((a) => `${a.command} → ${a.success ? ((a as { response?: { status?: string } }).response?.status ?? 'ok') : (a as { error: { code: string } }).error.code}`).join(', ') || 'nothing pending'}; then ${status.status}${status.last_error ? ` (${(status.last_error as { code: string }).code})` : ''}`)

      // The next initialize and payment succeed.
      if (status.device_state === 'awaitingFinish') t.equal((await c.call('shop', { command: 'finish_payment', success: false })).success, true, 'the pending payment finished')
      if (status.status === 'idle') await initialize(c)
      await accepted(c, payment({ timeout_milliseconds: 60_000 }))
      t.equal((await c.call('shop', { command: 'finish_payment', success: true, response_code: '0000' })).success, true, 'the next payment goes through')
    })
  }
}
