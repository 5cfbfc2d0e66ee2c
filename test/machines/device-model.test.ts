/**
 * Model-based testing of the device machine with xstate/graph, against the virtual pinpad.
 *
 * The model (helpers/device-model.ts) says which events can happen in each state; its adjacency
 * maps (one per way of connecting) give one path per transition. Each path runs on a live device
 * actor — the real machine with the real actors, a DeviceRegistry with one VirtualDevice, the
 * sandbox acquirer. POS events are sent; for an invoked actor's done/error event the rig makes the
 * virtual pinpad (card, amount cents, faults, table version, unplug) or the acquirer (held or let
 * go) produce it, and a deadline passes when the path says so; the test waits for the live actor
 * to take that event into the path's next state. At every step it checks what the pinpad received
 * and answered and what the owner was told (DEVICE.* notices); at the end, how the device ended.
 *
 * Finally every state node and every transition of the machine must have been taken by a live
 * actor in at least one path.
 */
import t, { type Test } from 'tap'
import { createActor, fromCallback, fromPromise, type AnyActorLogic } from 'xstate'
import { deviceMachine, type DeviceEnd, type DeviceNotice } from '../../machines/device.machine.js'
import type { PaymentResult, ChipOutput, InputResult, MenuResult, ReadCardOutput, PinpadHandle } from '../../machines/types.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { Coverage } from './helpers/coverage.js'
import {
  adjacency,
  CONNECTS,
  coveragePaths,
  modelKey,
  modelMachine,
  paymentClass,
  describeEvent,
  type DeviceSnapshot,
  type FailureHow,
  type ModelEvent,
  type ModelPath,
  type ModelStep,
} from './helpers/device-model.js'
import { DeviceRig, IDLE_LINES, isSubsequence, notices, wire, type Intents, type LogEntry } from './helpers/device-rig.js'
import { startSandbox, tempDir, type Sandbox } from './helpers/sandbox.js'
import { at as stateAt } from './helpers/device-states.js'

/** Notices the test counts exactly per step; PROMPT loosely. */
const COUNTED = ['DEVICE.CONNECTED', 'DEVICE.PAYMENT_RESULT', 'DEVICE.FINISHED', 'DEVICE.DISPLAYED', 'DEVICE.PROMPTED'] as const
/** States where a held command keeps the device long enough to be interrupted. */
const SELF_COMPLETING = ['syncingTables', 'displaying', 'reloadingTables', 'finishing', 'cancelling']
const HOLD_MS = 600
/** States that wait on a blocking command for the cardholder, and that command (2.x, 1.x). */
const WAITING_COMMANDS: Array<[string, string[]]> = [
  ['awaitingCard', ['GCX', 'GCR']],
  ['onChip', ['GOX', 'GOC']],
  ['awaitingPin', ['GPN']],
  ['removingCard', ['RMC']],
  ['awaitingChoice', ['MNU']],
  ['awaitingInput', ['GCD']],
]

const how = (e: ModelEvent): FailureHow | undefined => (e as { how?: FailureHow }).how
const outputOf = <T>(e: ModelEvent) => (e as { output?: T }).output
/** Events the live actors produce themselves: an invoked actor's end, or a deadline passing. */
const isActorEvent = (e: ModelEvent) => /^xstate\.((done|error)\.actor|after)\./.test(e.type)
const isDeadline = (e: ModelEvent | undefined) => e !== undefined && e.type.startsWith('xstate.after.')
const isInterruption = (e: ModelEvent) => ['CLOSE', 'LINK.CLOSED', 'CANCEL'].includes(e.type) || how(e) === 'injected' || isDeadline(e)
const isKeyEvent = (e: ModelEvent) => /^xstate\.(done|error)\.actor\.fetchCardHashKey$/.test(e.type)
/** The customer's deadline in the live rig: short where the path lets it pass, else out of reach. */
const DEADLINE_MS = 100
const NO_DEADLINE_MS = 3_600_000

interface Expectation {
  wire: string[]
  /** What the pinpad must not see. */
  never?: string[]
  counts: Partial<Record<(typeof COUNTED)[number], number>>
  /** Notices that must be among the step's, matched on the fields given. */
  notices: Array<Partial<DeviceNotice> & { type: DeviceNotice['type'] } & Record<string, unknown>>
  /** How the device ends with this step, if it does. */
  end?: Partial<DeviceEnd> & Record<string, unknown>
  prompt?: boolean
}

/** What the pinpad and the owner must see for a step, from the model (and the spec). */
function expectation(prev: DeviceSnapshot, step: ModelStep, lastDisplay: string | undefined): Expectation {
  const e = step.event
  const p = prev.context.payment
  const v1 = (step.state.context.pinpad ?? prev.context.pinpad)?.identity.abecs === false
  const pending = p !== undefined && p.result === undefined
  const next = step.state
  const exp: Expectation = { wire: [], counts: {}, notices: [] }
  const count = (type: (typeof COUNTED)[number]) => (exp.counts[type] = (exp.counts[type] ?? 0) + 1)
  const result = (r: Partial<PaymentResult>) => {
    count('DEVICE.PAYMENT_RESULT')
    exp.notices.push({ type: 'DEVICE.PAYMENT_RESULT', result: r } as never)
  }
  const connected = () => {
    count('DEVICE.CONNECTED')
    exp.notices.push({ type: 'DEVICE.CONNECTED', identity: { specVersion: v1 ? '1.08' : '2.12', abecs: !v1 } } as never)
  }
  switch (e.type) {
    case 'xstate.done.actor.openPinpad':
      exp.wire = ['EOT', 'OPN', 'OPN:000', 'GIN', 'GIN:000', v1 ? 'GIN' : 'GIX']
      if (prev.context.connect.simpleInitialize) connected()
      break
    case 'xstate.error.actor.openPinpad':
      exp.end = { kind: 'connectFailed', error: { code: 'MPOS_ERR_DEVICE_NOT_FOUND' } as never }
      break
    case 'xstate.error.actor.syncTables':
      if (prev.matches(stateAt('reloadingTables'))) result({ status: 'errored' })
      break
    case 'xstate.done.actor.syncTables':
      if (prev.matches(stateAt('reloadingTables'))) exp.wire = ['GTS', 'GTS:000', 'TLI', 'TLR', 'TLE', 'TLE:000']
      else {
        exp.wire = v1 ? ['GTS', 'GTS:000'] : ['GIX', 'GIX:000']
        connected()
      }
      break
    case 'xstate.done.actor.readCard': {
      const out = outputOf<ReadCardOutput>(e)!
      if (out.kind === 'tables-outdated') {
        exp.wire = ['GCR:020']
        // The second 020 after a reload ends the payment (§3.6.1: no loop).
        if (p?.tablesReloaded) result({ status: 'errored', error_code: 20 })
        // The read started with the payment (beside the key): its command may be in an earlier step.
      } else exp.wire = v1 ? ['GCR:000'] : ['GCX:000', 'GTK', 'GTK:000']
      break
    }
    case 'xstate.error.actor.readCard':
      exp.wire = ['GCX:013']
      result({ status: 'canceled', error_code: 13 })
      break
    case 'xstate.error.actor.fetchCardHashKey':
      // The acquirer refused the card-hash key: the payment fails (a card read is cancelled: CAN).
      exp.never = ['GTK']
      result({ status: 'errored', error: { code: 'MPOS_ERR_ACQUIRER_UNAUTHORIZED' } as never })
      break
    case 'xstate.done.actor.goOnChip':
      exp.wire = v1 ? ['GOC', 'GOC:000'] : ['GOX', 'GOX:000']
      break
    case 'xstate.error.actor.goOnChip':
      exp.wire = ['GOX', 'GOX:013']
      result({ status: 'canceled', error_code: 13 })
      break
    case 'xstate.done.actor.capturePin':
      exp.wire = ['GPN', 'GPN:000']
      break
    case 'xstate.error.actor.capturePin':
      exp.wire = ['GPN', 'GPN:013']
      result({ status: 'canceled', error_code: 13 })
      break
    case 'xstate.done.actor.buildCardHash': {
      const card = p!.card!
      const chipOut = p!.chip
      result({
        status: chipOut?.decision === 'declined' ? 'rejected' : 'accepted',
        payment_method: card.paymentMethod,
        is_online_pin: chipOut ? chipOut.pin === 'online' : card.needsPin,
        ...(card.holderName ? { card_holder_name: card.holderName } : {}),
      })
      break
    }
    case 'FINISH_PAYMENT':
      if (!next.matches(stateAt('finishing'))) count('DEVICE.FINISHED')
      break
    case 'xstate.done.actor.finishChip':
      exp.wire = v1 ? ['FNC', 'FNC:000'] : ['FCX', 'FCX:000']
      count('DEVICE.FINISHED')
      break
    case 'xstate.error.actor.finishChip':
      count('DEVICE.FINISHED')
      exp.notices.push({ type: 'DEVICE.FINISHED', error: { code: 'MPOS_ERR_LINK_ACK_TIMEOUT' } } as never)
      break
    case 'xstate.after.customerDeadline.device.connected.finishing':
      count('DEVICE.FINISHED')
      exp.notices.push({ type: 'DEVICE.FINISHED', error: { code: 'MPOS_ERR_PAYMENT_TIMEOUT' } } as never)
      break
    case 'xstate.done.actor.removeCard':
      exp.wire = ['RMC', 'RMC:000']
      break
    case 'xstate.done.actor.chooseOption':
    case 'xstate.done.actor.enterData': {
      const command = e.type.endsWith('chooseOption') ? 'MNU' : 'GCD'
      exp.wire = [command, `${command}:000`]
      count('DEVICE.PROMPTED')
      exp.notices.push({ type: 'DEVICE.PROMPTED', response: outputOf<MenuResult | InputResult>(e) } as never)
      break
    }
    case 'xstate.error.actor.chooseOption':
    case 'xstate.error.actor.enterData': {
      const command = e.type.endsWith('chooseOption') ? 'MNU' : 'GCD'
      const idle = how(e) === 'cardholder-idle'
      exp.wire = [command, `${command}:${idle ? '012' : '013'}`]
      count('DEVICE.PROMPTED')
      exp.notices.push({ type: 'DEVICE.PROMPTED', error: { code: idle ? 'MPOS_ERR_PROMPT_TIMEOUT' : 'MPOS_ERR_PROMPT_CANCELED', abecsStatus: idle ? 12 : 13 } } as never)
      break
    }
    case 'xstate.after.customerDeadline.device.connected.prompting':
      count('DEVICE.PROMPTED')
      exp.notices.push({ type: 'DEVICE.PROMPTED', error: { code: 'MPOS_ERR_PROMPT_TIMEOUT' } } as never)
      break
    case 'xstate.done.actor.displayMessage':
      exp.wire = lastDisplay?.includes('\n') ? ['DEX', 'DEX:000'] : ['DSP', 'DSP:000']
      count('DEVICE.DISPLAYED')
      break
    case 'xstate.error.actor.displayMessage':
      count('DEVICE.DISPLAYED')
      exp.notices.push({ type: 'DEVICE.DISPLAYED', error: { code: 'MPOS_ERR_LINK_ACK_TIMEOUT' } } as never)
      break
    case 'CANCEL':
      if (prev.matches(stateAt('prompting'))) {
        count('DEVICE.PROMPTED')
        exp.notices.push({ type: 'DEVICE.PROMPTED', error: { code: 'MPOS_ERR_PROMPT_CANCELED' } } as never)
      } else if (prev.matches(stateAt('awaitingFinish'))) count('DEVICE.FINISHED')
      else if (pending) result({ status: 'canceled', error: { code: 'MPOS_ERR_PAYMENT_CANCELED' } as never })
      break
    case 'xstate.done.actor.cancelPinpad':
      // The stopped command's CAN/EOT (or the cancel's own: checked since the interruption), then the idle screen.
      exp.wire = ['DSP', 'DSP:000']
      // The deadline passed: the payment is answered with the timeout once the pinpad confirmed.
      if (prev.matches(stateAt('timingOut'))) result({ status: 'errored', error_code: 12, error: { code: 'MPOS_ERR_PAYMENT_TIMEOUT' } as never })
      break
    case 'xstate.error.actor.cancelPinpad':
      // No EOT: the pinpad is let go (its port closed without CLO).
      exp.never = ['CLO']
      if (pending) result({ status: 'errored', error: { code: 'MPOS_ERR_DEVICE_TIMEOUT' } as never })
      exp.end = { kind: 'unresponsive', error: { code: 'MPOS_ERR_DEVICE_TIMEOUT' } as never }
      break
    case 'CLOSE':
      if (pending) result({ status: 'canceled', error: { code: 'MPOS_ERR_PAYMENT_CANCELED' } as never })
      if (next.matches('closed')) exp.end = { kind: 'closed' }
      break
    case 'LINK.CLOSED':
      if (!prev.matches('closing')) {
        if (pending) result({ status: 'errored', error: { code: 'MPOS_ERR_LINK_CLOSED' } as never })
        exp.end = { kind: 'lost' }
      } else exp.end = { kind: 'closed' }
      break
    case 'xstate.done.actor.closeLink':
      exp.wire = ['CLO', 'CLO:000']
      exp.end = { kind: 'closed' }
      break
    case 'xstate.error.actor.closeLink':
      exp.end = { kind: 'closed' }
      break
    case 'PINPAD.PROMPT':
      exp.prompt = true
      break
  }
  return exp
}

interface Env {
  sandbox: Sandbox
  tablesDir: string
  coverage: Coverage
}

async function runPath(t: Test, path: ModelPath, env: Env): Promise<void> {
  const v1 = path.steps.some((s) => s.event.type === 'xstate.done.actor.openPinpad' && outputOf<PinpadHandle>(s.event)?.identity.abecs === false)
  const rig = new DeviceRig(t, { sandbox: env.sandbox, tablesDir: env.tablesDir, specVersion: v1 ? '1.08' : '2.12', inspect: [env.coverage.observe], connect: path.connect })
  const { pad } = rig
  if (how(path.steps[0]!.event) === 'unplugged') rig.device.unplug()
  // Whether the table sync is interrupted while held (the first step's state).
  const first = path.steps[1]?.event
  if (path.steps[0]!.state.matches(stateAt('syncingTables')) && first && isInterruption(first)) rig.arm(path.steps[0]!.state.value, () => (pad.faults.responseDelayMs = HOLD_MS))
  rig.start()
  let cursor = await rig.next(0, (e) => e.kind === 'snap', 'the initial snapshot')
  t.same(rig.log[cursor], { kind: 'snap', event: 'xstate.init', value: 'connecting', status: 'active' }, 'starts connecting')
  let prev = deviceMachine.resolveState({ value: 'connecting', context: { deviceId: 1, connect: path.connect } }) as DeviceSnapshot
  let lastDisplay: string | undefined
  let releaseKey: (() => void) | undefined
  let stalled = false
  let closedBy: string | undefined
  /** The log index before the last CANCEL, CLOSE or deadline: the CAN/EOT it causes comes after it. */
  let interruptedAt = 0
  /** The log index when the current state was entered. */
  let enteredAt = 0

  for (const [i, step] of path.steps.entries()) {
    const e = step.event
    const following = path.steps[i + 1]?.event
    const label = `${i + 1}. ${describeEvent(e)} → ${JSON.stringify(step.state.value)}`

    // An interruption meets the step's command on the wire, not a command still waiting for the
    // link (the idle screen's CAN/EOT may still be finishing when the payment starts).
    const waitingCommand = WAITING_COMMANDS.find(([state]) => prev.matches(stateAt(state)))
    if (waitingCommand && (isInterruption(e) || how(following ?? e) === 'stalled') && how(e) !== 'injected') {
      const ids = waitingCommand[1]
      await rig.next(enteredAt, (x) => x.kind === 'cmd' && ids.includes(x.id), `${ids.join('/')} on the wire`)
    }

    // What the live actors will meet in the state this step leads to (armed before it is entered).
    if (following) {
      const h = how(following)
      if (h === 'no-ack') rig.arm(step.state.value, () => (pad.faults.dropNext = 1))
      if (following.type === 'xstate.done.actor.readCard' && outputOf<ReadCardOutput>(following)?.kind === 'tables-outdated') {
        // The pinpad reports other tables than the host's: the chip card's GCR answers 020.
        rig.arm(step.state.value, () => pad.tables.preload('0000000001', factoryTables().records))
      }
      if (isInterruption(following) || following.type === 'PINPAD.PROMPT') {
        const held = SELF_COMPLETING.some((s) => step.state.matches(stateAt(s)))
        if (held || step.state.matches('closing')) rig.arm(step.state.value, () => (pad.faults.responseDelayMs = HOLD_MS))
      }
      if (h === 'stalled') {
        // The pinpad hangs before the CANCEL: its CAN never gets an EOT.
        pad.faults.stalled = stalled = true
      }
      if (h === 'unplugged') rig.device.unplug()
    }

    // The card-hash key is held from the start of the payment until the path lets it come.
    if (e.type === 'PROCESS_PAYMENT') releaseKey = env.sandbox.holdCardHashKey()
    if (isKeyEvent(e)) {
      releaseKey?.()
      releaseKey = undefined
    }

    // What the cardholder does for this step.
    const intents: Intents = {}
    if (e.type === 'xstate.done.actor.readCard') {
      const out = outputOf<ReadCardOutput>(e)!
      intents.card = out.kind === 'card' ? out.cardRef : 'visa-credit'
    }
    if (e.type === 'xstate.done.actor.goOnChip' && outputOf<ChipOutput>(e)!.pin !== 'none') intents.pin = 'type'
    if (e.type === 'xstate.done.actor.capturePin') intents.pin = 'type'
    if (how(e) === 'cardholder-cancel' && ['xstate.error.actor.goOnChip', 'xstate.error.actor.capturePin'].includes(e.type)) intents.pin = 'cancel'
    if (e.type === 'xstate.done.actor.chooseOption') intents.choice = outputOf<MenuResult>(e)!.index + 1
    if (e.type === 'xstate.done.actor.enterData') intents.data = outputOf<InputResult>(e)!.value
    if (how(e) === 'cardholder-cancel' && e.type === 'xstate.error.actor.chooseOption') intents.choice = 'cancel'
    if (how(e) === 'cardholder-cancel' && e.type === 'xstate.error.actor.enterData') intents.data = 'cancel'
    if (e.type === 'xstate.done.actor.removeCard') intents.remove = true
    rig.setIntents(intents)

    // The idle DSP of ready may still be on its way to the pinpad: a fault armed for the next
    // state's command must not hit it.
    if (how(following ?? e) === 'no-ack' && prev.matches(stateAt('ready')) && !isActorEvent(e)) {
      await rig.next(cursor, (x) => x.kind === 'rsp' && x.id === 'DSP', 'the idle DSP answered')
    }

    // The state this step enters gets a deadline that passes only when the path says so.
    rig.deadlineMs = deadlinePasses(path.steps, i, prev) ? DEADLINE_MS : NO_DEADLINE_MS
    if (['CANCEL', 'CLOSE'].includes(e.type) || isDeadline(e)) interruptedAt = cursor

    // Perform the event, or let the pinpad / acquirer / cable / clock produce it.
    if (e.type === 'DISPLAY_MESSAGE') lastDisplay = e.message
    if (e.type === 'LINK.CLOSED') {
      // In closing the link watcher is gone: nothing real sends LINK.CLOSED any more.
      if (prev.matches('closing')) rig.actor.send(e as never)
      else rig.device.unplug()
    } else if (how(e) === 'injected') rig.actor.send(e as never)
    else if (!isActorEvent(e) && e.type !== 'PINPAD.PROMPT') rig.actor.send(e as never)

    // The live actor takes the same event into the same state.
    const at = await rig.next(cursor + 1, (x) => x.kind === 'snap' && x.event === e.type, label)
    // A held answer stays held while a deadline is to pass over it.
    if (!isDeadline(following)) pad.faults.responseDelayMs = 0
    const live = rig.log[at] as Extract<LogEntry, { kind: 'snap' }>
    const window = rig.log.slice(cursor + 1, at + 1)
    const moved = window.filter((x): x is Extract<LogEntry, { kind: 'snap' }> => x.kind === 'snap' && x !== live && JSON.stringify(x.value) !== JSON.stringify(prev.value))
    t.same(moved, [], `${label}: no other event moved the device`)
    t.same(live.value, step.state.value, label)

    const exp = expectation(prev, step, lastDisplay)
    const seen = wire(window)
    // A hung pinpad receives nothing, CLO included.
    if (stalled && e.type === 'xstate.done.actor.closeLink') exp.wire = []
    t.ok(isSubsequence(exp.wire, seen), `${label}: the pinpad saw ${exp.wire.join(' ') || 'nothing required'}`, { found: seen })
    for (const id of exp.never ?? []) t.notOk(seen.includes(id), `${label}: no ${id}`)
    const heard = notices(window)
    for (const type of COUNTED) t.equal(heard.filter((n) => n.type === type).length, exp.counts[type] ?? 0, `${label}: ${type} × ${exp.counts[type] ?? 0}`)
    for (const want of exp.notices) t.ok(heard.some((n) => matches(n, want)), `${label}: ${want.type} ${JSON.stringify(want)}`, { heard })
    if (exp.prompt) t.ok(heard.some((n) => n.type === 'DEVICE.PROMPT' && /\S/.test(n.message)), `${label}: DEVICE.PROMPT`)
    const hash = heard.find((n) => n.type === 'DEVICE.PAYMENT_RESULT' && n.result.status !== 'errored' && n.result.status !== 'canceled')
    if (hash?.type === 'DEVICE.PAYMENT_RESULT') t.match(hash.result.card_hash, /^\d+_[A-Za-z0-9+/=]+$/, `${label}: a card hash`)
    if (exp.end) {
      await rig.until(() => rig.output !== undefined, 'the end of the device')
      t.ok(matches(rig.output, exp.end), `${label}: the device ended ${JSON.stringify(exp.end)}`, { output: rig.output })
    }

    // After a cancel the pinpad shows the idle message; after CLO, the closing message.
    if (e.type === 'xstate.done.actor.cancelPinpad') t.same(pad.display.screen.lines, IDLE_LINES, `${label}: idle message on the display`)
    if (e.type === 'xstate.done.actor.closeLink' && !stalled) {
      // CLOSE's message; closing for another reason (a failed sync) shows none.
      t.same(pad.display.screen.lines, closedBy === 'CLOSE' ? ['    ATE LOGO', ''] : ['', ''], `${label}: CLO message`)
    }
    if (step.state.matches('closing') && !prev.matches('closing')) closedBy = e.type
    if (e.type === 'xstate.error.actor.cancelPinpad') t.notOk(seen.includes('EOT'), `${label}: the hung pinpad never sent EOT`)
    if (e.type === 'xstate.done.actor.cancelPinpad') t.ok(wire(rig.log.slice(interruptedAt + 1, at + 1)).includes('EOT'), `${label}: the pinpad confirmed a CAN (EOT) since the interruption`)

    // Entering a state that waits on a command: its command is looked for from here on.
    const entered = WAITING_COMMANDS.find(([state]) => step.state.matches(stateAt(state)) && !prev.matches(stateAt(state)))
    if (entered) enteredAt = cursor
    cursor = at
    prev = step.state
  }
  releaseKey?.()

  // Card data lives only while a card is being processed.
  if (!['onChip', 'awaitingPin', 'processed'].some((s) => prev.matches(stateAt(s)))) {
    await rig.until(() => rig.vault.size === 0, 'the vault to be empty')
    t.equal(rig.vault.size, 0, 'no card data left in the vault')
  }
  // Unplugged: the device is gone from the registry; plugged back, the same id is listed again.
  if (path.steps.at(-1)!.event.type === 'LINK.CLOSED' && prev.matches('lost')) {
    t.same(rig.registry.list(), [], 'the unplugged device left the registry')
    rig.device.plug()
    t.equal(rig.registry.list()[0]?.id, 1, 'plugged back under the same id')
  }
}

/** States with the customer's deadline, and its event there. */
const DEADLINE_STATES = ['payment.steps.cardholder', 'finishing', 'removingCard', 'prompting']

/**
 * Whether the state step `i` enters has a deadline the path lets pass: it is entered by this step
 * and left, later in the path, by that deadline's event (the timer is armed on entry).
 */
function deadlinePasses(steps: ModelStep[], i: number, prev: DeviceSnapshot): boolean {
  for (const path of DEADLINE_STATES) {
    const inside = (s: DeviceSnapshot) => s.matches(stateValueOf(path))
    if (!inside(steps[i]!.state) || inside(prev)) continue
    for (let j = i + 1; j < steps.length && inside(steps[j - 1]!.state); j++) {
      if (steps[j]!.event.type === `xstate.after.customerDeadline.device.connected.${path}`) return true
    }
  }
  return false
}

/** `payment.steps.cardholder` → `{ connected: { payment: { steps: 'cardholder' } } }`. */
function stateValueOf(path: string): never {
  const keys = ['connected', ...path.split('.')]
  return keys.slice(0, -1).reduceRight<unknown>((v, k) => ({ [k]: v }), keys.at(-1)) as never
}

function matches(actual: unknown, want: unknown): boolean {
  if (want === null || typeof want !== 'object') return actual === want
  if (actual === null || typeof actual !== 'object') return false
  return Object.entries(want).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v))
}

/** The same paths on the model machine with inert actors: what the paths cover in theory. */
function modelCoverage(paths: ModelPath[]): Coverage {
  const coverage = new Coverage(deviceMachine as never)
  const inert = fromPromise(() => new Promise<never>(() => {}))
  const actors = Object.fromEntries(Object.keys(deviceMachine.implementations.actors).map((k) => [k, inert])) as Record<string, AnyActorLogic>
  actors.watchLink = fromCallback(() => () => {})
  for (const path of paths) {
    const actor = createActor(modelMachine.provide({ actors: actors as never }), { input: { deviceId: 1, connect: path.connect }, inspect: coverage.observe })
    actor.start()
    for (const step of path.steps) actor.send(step.event as never)
    actor.stop()
  }
  return coverage
}

const paths = Object.entries(CONNECTS).flatMap(([name, connect]) => coveragePaths(connect, name, adjacency(connect)))

t.test('the model', async (t) => {
  t.ok(paths.length > 40, `${paths.length} paths, ${paths.reduce((n, p) => n + p.steps.length, 0)} steps`)
  t.ok(paths.every((p) => p.steps[0]!.event.type.endsWith('.openPinpad') || p.steps[0]!.event.type === 'CLOSE'), 'every path starts with the port being opened (or a CLOSE meanwhile)')
  const classes = new Set(paths.flatMap((p) => p.steps.map((s) => paymentClass(s.state.context.payment))).filter(Boolean))
  t.same([...classes].sort(), ['00', '02', '13', '70', 'debit'], 'payment kinds chosen by the cents')
  t.ok(paths.some((p) => p.steps.some((s, i) => s.event.type === 'xstate.done.actor.readCard' && p.steps.slice(i).some((x) => isKeyEvent(x.event)))), 'on some path the card comes before the key')
  const model = modelCoverage(paths)
  t.same(model.missingStates(), [], 'the paths visit every state node')
  t.same(model.missingTransitions(), [], 'the paths take every transition')
  t.comment(`model: ${model.summary()}`)
  t.ok(new Set(paths.map((p) => modelKey(p.steps.at(-1)!.state))).size > 10, 'the paths end in many model states')
})

t.test('every path on a live device actor with the virtual pinpad', async (t) => {
  const sandbox = await startSandbox(t)
  const tablesDir = tempDir(t)
  const coverage = new Coverage(deviceMachine as never)
  const env: Env = { sandbox, tablesDir, coverage }
  // MPOS_MODEL_GREP=<text> runs only the paths whose description has it (to look at one closely).
  const only = process.env.MPOS_MODEL_GREP
  for (const path of paths) {
    if (only && !path.description.includes(only)) continue
    await t.test(path.description, (t) => runPath(t, path, env))
  }

  if (only) return
  t.test('coverage of the device machine by the live actors', async (t) => {
    t.same(coverage.missingStates(), [], 'every state node was visited')
    t.same(coverage.missingTransitions(), [], 'every transition was taken')
    t.comment(`live: ${coverage.summary()}`)
  })
})
