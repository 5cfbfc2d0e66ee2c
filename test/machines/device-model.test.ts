/**
 * Model-based testing of the device machine with xstate/graph, against the virtual pinpad.
 *
 * The model (helpers/device-model.ts) says which events can happen in each state; its adjacency
 * map gives one path per transition. Each path runs on a live device actor — the real machine
 * with the real actors, a DeviceRegistry with one VirtualDevice, the sandbox acquirer. POS events
 * are sent; for an invoked actor's done/error event the rig makes the virtual pinpad (card,
 * amount cents, faults, table version, unplug) or the acquirer produce it, and the test waits
 * for the live actor to take that event into the path's next state. At every step it checks what
 * the pinpad received and answered, and what the owner was told (DEVICE.* notices).
 *
 * Finally every state node and every transition of the machine must have been taken by a live
 * actor in at least one path.
 */
import t, { type Test } from 'tap'
import { createActor, createEmptyActor, fromCallback, fromPromise, type AnyActorLogic, type AnyActorScope } from 'xstate'
import { deviceMachine, type DeviceNotice } from '../../machines/device.machine.js'
import type { PaymentResult, ChipOutput, ReadCardOutput } from '../../machines/types.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { Coverage } from './helpers/coverage.js'
import {
  adjacency,
  coveragePaths,
  describeEvent,
  modelKey,
  paymentClass,
  IDENTITY_108,
  IDENTITY_212,
  type DeviceSnapshot,
  type FailureHow,
  type ModelEvent,
  type ModelPath,
  type ModelStep,
} from './helpers/device-model.js'
import { DeviceRig, IDLE_LINES, isSubsequence, notices, wire, type Intents, type LogEntry } from './helpers/device-rig.js'
import { startSandbox, tempDir, type Sandbox } from './helpers/sandbox.js'
import { at as stateAt } from './helpers/device-states.js'

/** What the owner hears when the device enters a state (idle is reported as ready). */
const ANNOUNCED: Record<string, string> = { idle: 'ready' }
/** Notices the test counts exactly per step; DEVICE.STATE is checked as a sequence, PROMPT loosely. */
const COUNTED = ['DEVICE.CONNECTED', 'DEVICE.CONNECT_FAILED', 'DEVICE.PAYMENT_RESULT', 'DEVICE.FINISHED', 'DEVICE.DISPLAYED', 'DEVICE.DISCONNECTED', 'DEVICE.CLOSED'] as const
/** States where a held command keeps the device long enough to be interrupted. */
const SELF_COMPLETING = ['connecting', 'syncingTables', 'displaying', 'reloadingTables', 'finishing', 'cancelling']
const HOLD_MS = 600

const leaf = (value: unknown): string => (typeof value === 'string' ? value : leaf(Object.values(value as object)[0]))
const how = (e: ModelEvent): FailureHow | undefined => (e as { how?: FailureHow }).how
const outputOf = <T>(e: ModelEvent) => (e as { output?: T }).output
/** Events the live actors produce themselves: an invoked actor's end, or a deadline passing. */
const isActorEvent = (e: ModelEvent) => /^xstate\.((done|error)\.actor|after)\./.test(e.type)
const isDeadline = (e: ModelEvent | undefined) => e !== undefined && e.type.startsWith('xstate.after.')
const isInterruption = (e: ModelEvent) => ['CLOSE', 'LINK.CLOSED', 'CANCEL'].includes(e.type) || how(e) === 'injected' || isDeadline(e)
/** The customer's deadline in the live rig: short where the path lets it pass, else out of reach. */
const DEADLINE_MS = 100
const NO_DEADLINE_MS = 3_600_000

const scope = (): AnyActorScope => {
  const self = createEmptyActor()
  return {
    self,
    system: self.system,
    id: '',
    sessionId: 'model',
    logger: () => {},
    defer: () => {},
    stopChild: () => {},
    emit: () => {},
    actionExecutor: () => {},
  } as unknown as AnyActorScope
}

/** The states the model enters with this event, in order (transient ones included). */
function enteredStates(prev: DeviceSnapshot, event: ModelEvent): string[] {
  const micro = (deviceMachine as unknown as { microstep: (s: unknown, e: unknown, sc: AnyActorScope) => DeviceSnapshot[] }).microstep(prev, event, scope())
  const out: string[] = []
  let last = leaf(prev.value)
  for (const s of micro) {
    const now = leaf(s.value)
    if (now !== last) out.push(now)
    last = now
  }
  return out
}

interface Expectation {
  wire: string[]
  /** What the pinpad must not see. */
  never?: string[]
  counts: Partial<Record<(typeof COUNTED)[number], number>>
  /** Notices that must be among the step's, matched on the fields given. */
  notices: Array<Partial<DeviceNotice> & { type: DeviceNotice['type'] } & Record<string, unknown>>
  prompt?: boolean
}

/** What the pinpad and the owner must see for a step, from the model (and the spec). */
function expectation(prev: DeviceSnapshot, step: ModelStep, v1: boolean, lastDisplay: string | undefined): Expectation {
  const e = step.event
  const p = prev.context.payment
  const pending = p !== undefined && p.result === undefined
  const next = step.state
  const exp: Expectation = { wire: [], counts: {}, notices: [] }
  const count = (type: (typeof COUNTED)[number]) => (exp.counts[type] = (exp.counts[type] ?? 0) + 1)
  const result = (r: Partial<PaymentResult>) => {
    count('DEVICE.PAYMENT_RESULT')
    exp.notices.push({ type: 'DEVICE.PAYMENT_RESULT', result: r } as never)
  }
  const identity = v1 ? IDENTITY_108 : IDENTITY_212
  const connected = () => {
    count('DEVICE.CONNECTED')
    exp.notices.push({ type: 'DEVICE.CONNECTED', identity: { manufacturer: identity.manufacturer, model: identity.model, specVersion: identity.specVersion, abecs: identity.abecs } } as never)
  }
  switch (e.type) {
    case 'xstate.done.actor.openLink':
      exp.wire = ['EOT', 'OPN', 'OPN:000', 'GIN', 'GIN:000', v1 ? 'GIN' : 'GIX']
      if (prev.context.connect?.simpleInitialize) connected()
      break
    case 'xstate.error.actor.openLink':
    case 'xstate.error.actor.syncTables':
      if (prev.matches(stateAt('reloadingTables'))) result({ status: 'errored' })
      else {
        count('DEVICE.CONNECT_FAILED')
        exp.notices.push({ type: 'DEVICE.CONNECT_FAILED', error: { code: how(e) === 'unplugged' ? 'MPOS_ERR_DEVICE_NOT_FOUND' : 'MPOS_ERR_ACQUIRER_UNAUTHORIZED' } } as never)
      }
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
        exp.wire = ['GCR', 'GCR:020']
        // The second 020 after a reload ends the payment (§3.6.1: no loop).
        if (p?.tablesReloaded) result({ status: 'errored', error_code: 20 })
      } else exp.wire = v1 ? ['GCR', 'GCR:000'] : ['GCX', 'GCX:000', 'GTK', 'GTK:000']
      break
    }
    case 'xstate.error.actor.readCard':
      if (how(e) === 'bad-key') {
        // The acquirer refused the card-hash key: the card read is cancelled (CAN) or never sent.
        exp.never = ['GCX:000', 'GTK']
        result({ status: 'errored', error: { code: 'MPOS_ERR_ACQUIRER_UNAUTHORIZED' } as never })
      } else {
        exp.wire = ['GCX', 'GCX:013']
        result({ status: 'canceled', error_code: 13 })
      }
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
      const chip = p!.chip
      result({
        status: chip?.decision === 'declined' ? 'rejected' : 'accepted',
        payment_method: card.paymentMethod,
        is_online_pin: chip ? chip.pin === 'online' : card.needsPin,
        ...(card.holderName ? { card_holder_name: card.holderName } : {}),
      })
      break
    }
    case 'xstate.error.actor.buildCardHash':
      result({ status: 'errored', error: { code: 'MPOS_ERR_ACQUIRER_UNAUTHORIZED' } as never })
      break
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
    case 'xstate.done.actor.removeCard':
      exp.wire = ['RMC', 'RMC:000']
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
      if (prev.matches(stateAt('awaitingFinish'))) count('DEVICE.FINISHED')
      else if (pending) result({ status: 'canceled', error: { code: 'MPOS_ERR_PAYMENT_CANCELED' } as never })
      break
    case 'xstate.done.actor.cancelPinpad':
      // The stopped command's CAN/EOT (or the cancel's own), then the idle screen.
      exp.wire = ['EOT', 'DSP', 'DSP:000']
      // The deadline passed: the payment is answered with the timeout once the pinpad confirmed.
      if (prev.matches(stateAt('timingOut'))) result({ status: 'errored', error_code: 12, error: { code: 'MPOS_ERR_PAYMENT_TIMEOUT' } as never })
      break
    case 'xstate.error.actor.cancelPinpad':
      // No EOT: the pinpad is let go (its port closed without CLO) and the owner told why.
      exp.never = ['CLO']
      if (pending) result({ status: 'errored', error: { code: 'MPOS_ERR_DEVICE_TIMEOUT' } as never })
      count('DEVICE.DISCONNECTED')
      exp.notices.push({ type: 'DEVICE.DISCONNECTED', error: { code: 'MPOS_ERR_DEVICE_TIMEOUT' } } as never)
      break
    case 'xstate.after.customerDeadline.device.connected.finishing':
      count('DEVICE.FINISHED')
      exp.notices.push({ type: 'DEVICE.FINISHED', error: { code: 'MPOS_ERR_PAYMENT_TIMEOUT' } } as never)
      break
    case 'CLOSE':
      if (pending) result({ status: 'canceled', error: { code: 'MPOS_ERR_PAYMENT_CANCELED' } as never })
      break
    case 'LINK.CLOSED':
      if (!prev.matches('closing')) {
        count('DEVICE.DISCONNECTED')
        if (pending) result({ status: 'errored', error: { code: 'MPOS_ERR_LINK_CLOSED' } as never })
      }
      break
    case 'xstate.done.actor.closeLink':
      exp.wire = ['CLO', 'CLO:000']
      break
    case 'PINPAD.PROMPT':
      exp.prompt = true
      break
  }
  if (next.matches('closed') && !prev.matches('closed')) count('DEVICE.CLOSED')
  return exp
}

interface Env {
  sandbox: Sandbox
  tablesDir: string
  coverage: Coverage
}

async function runPath(t: Test, path: ModelPath, initial: DeviceSnapshot, env: Env): Promise<void> {
  const v1 = path.steps.some((s) => s.event.type === 'xstate.done.actor.openLink' && (outputOf<{ abecs: boolean }>(s.event)?.abecs === false))
  const rig = new DeviceRig(t, { sandbox: env.sandbox, tablesDir: env.tablesDir, specVersion: v1 ? '1.08' : '2.12', inspect: [env.coverage.observe] })
  const { pad } = rig
  let cursor = await rig.next(0, (e) => e.kind === 'snap', 'the initial snapshot')
  t.same(rig.log[cursor], { kind: 'snap', event: 'xstate.init', value: 'disconnected', status: 'active' }, 'starts disconnected')
  let prev = initial
  let lastDisplay: string | undefined
  let release: (() => void) | undefined
  let stalled = false
  let closedBy: string | undefined
  let closedFrom: string | undefined

  for (const [i, step] of path.steps.entries()) {
    const e = step.event
    const following = path.steps[i + 1]?.event
    const target = leaf(step.state.value)
    const label = `${i + 1}. ${describeEvent(e)} → ${JSON.stringify(step.state.value)}`

    // What the live actors will meet in the state this step leads to (armed before it is entered).
    if (following) {
      const h = how(following)
      if (h === 'no-ack') rig.arm(step.state.value, () => (pad.faults.dropNext = 1))
      if (following.type === 'xstate.done.actor.readCard' && outputOf<ReadCardOutput>(following)?.kind === 'tables-outdated') {
        // The pinpad reports other tables than the host's: the chip card's GCR answers 020.
        rig.arm(step.state.value, () => pad.tables.preload('0000000001', factoryTables().records))
      }
      if (isInterruption(following) || following.type === 'PINPAD.PROMPT') {
        if (SELF_COMPLETING.includes(target) || step.state.matches('closing')) rig.arm(step.state.value, () => (pad.faults.responseDelayMs = HOLD_MS))
      }
      if (h === 'stalled') {
        // The pinpad hangs before the CANCEL: its CAN never gets an EOT.
        pad.faults.stalled = stalled = true
      }
      if (h === 'unplugged') rig.device.unplug()
    }

    // The card-hash key is asked for as the card read starts: when this payment must stay in
    // `processed` (interrupted there, or the key refused only then), the acquirer holds it from
    // the start; a refusal is let through once the card is read.
    if (e.type === 'PROCESS_PAYMENT') {
      const rest = path.steps.slice(i + 1)
      const end = rest.findIndex((s) => !['awaitingCard', 'reloadingTables', 'onChip', 'awaitingPin', 'processed'].includes(leaf(s.state.value)))
      const payment = end < 0 ? rest : rest.slice(0, end + 1)
      const leave = payment.findIndex((s, j) => j > 0 && payment[j - 1]!.state.matches(stateAt('processed')))
      const leaving = leave >= 0 ? payment[leave]!.event : undefined
      if (leaving && (isInterruption(leaving) || how(leaving) === 'bad-key')) {
        const releaseKey = env.sandbox.holdCardHashKey()
        if (how(leaving) === 'bad-key') rig.arm(stateAt('processed'), releaseKey)
        else release = releaseKey
      }
    }

    // What the cardholder does for this step.
    const intents: Intents = {}
    if (e.type === 'xstate.done.actor.readCard') {
      const out = outputOf<ReadCardOutput>(e)!
      intents.card = out.kind === 'card' ? out.cardRef : 'visa-credit'
    }
    if (e.type === 'xstate.done.actor.goOnChip' && outputOf<ChipOutput>(e)!.pin !== 'none') intents.pin = 'type'
    if (e.type === 'xstate.done.actor.capturePin') intents.pin = 'type'
    if (how(e) === 'cardholder-cancel' && e.type !== 'xstate.error.actor.readCard') intents.pin = 'cancel'
    if (e.type === 'xstate.done.actor.removeCard') intents.remove = true
    rig.setIntents(intents)

    // The idle DSP of ready may still be on its way to the pinpad: a fault armed for the next
    // state's command must not hit it.
    if (how(following ?? e) === 'no-ack' && prev.matches(stateAt('ready')) && !isActorEvent(e)) {
      await rig.next(cursor, (x) => x.kind === 'rsp' && x.id === 'DSP', 'the idle DSP answered')
    }

    // The state this step enters gets a deadline that passes only when the path says so.
    rig.deadlineMs = isDeadline(following) ? DEADLINE_MS : NO_DEADLINE_MS

    // Perform the event, or let the pinpad / acquirer / cable / clock produce it.
    if (e.type === 'DISPLAY_MESSAGE') lastDisplay = e.message
    if (e.type === 'LINK.CLOSED') {
      // In closing the link watcher is gone: nothing real sends LINK.CLOSED any more (see the report).
      if (prev.matches('closing')) rig.actor.send(e as never)
      else rig.device.unplug()
    } else if (how(e) === 'injected') rig.actor.send(e as never)
    else if (!isActorEvent(e) && e.type !== 'PINPAD.PROMPT') rig.actor.send(e as never)

    // The live actor takes the same event into the same state.
    const at = await rig.next(cursor + 1, (x) => x.kind === 'snap' && x.event === e.type, label)
    if (release && prev.matches(stateAt('processed'))) {
      release()
      release = undefined
    }
    // A held answer stays held while a deadline is to pass over it.
    if (!isDeadline(following)) pad.faults.responseDelayMs = 0
    const live = rig.log[at] as Extract<LogEntry, { kind: 'snap' }>
    const window = rig.log.slice(cursor + 1, at + 1)
    const moved = window.filter((x): x is Extract<LogEntry, { kind: 'snap' }> => x.kind === 'snap' && x !== live && JSON.stringify(x.value) !== JSON.stringify(prev.value))
    t.same(moved, [], `${label}: no other event moved the device`)
    t.same(live.value, step.state.value, label)

    const exp = expectation(prev, step, v1, lastDisplay)
    const seen = wire(window)
    // A hung pinpad (the failed cancel) receives nothing, CLO included; nor does one whose port
    // was still being opened (no connection to close).
    if ((stalled || closedFrom === 'connecting') && e.type === 'xstate.done.actor.closeLink') exp.wire = []
    t.ok(isSubsequence(exp.wire, seen), `${label}: the pinpad saw ${exp.wire.join(' ') || 'nothing required'}`, { found: seen })
    for (const id of exp.never ?? []) t.notOk(seen.includes(id), `${label}: no ${id}`)
    const heard = notices(window)
    const announced = heard.filter((n) => n.type === 'DEVICE.STATE').map((n) => (n as { state: string }).state)
    t.same(announced, enteredStates(prev, e).map((s) => ANNOUNCED[s] ?? s), `${label}: the owner hears the states entered`)
    for (const type of COUNTED) t.equal(heard.filter((n) => n.type === type).length, exp.counts[type] ?? 0, `${label}: ${type} × ${exp.counts[type] ?? 0}`)
    for (const want of exp.notices) t.ok(heard.some((n) => matches(n, want)), `${label}: ${want.type} ${JSON.stringify(want)}`, { heard })
    if (exp.prompt) t.ok(heard.some((n) => n.type === 'DEVICE.PROMPT' && /\S/.test(n.message)), `${label}: DEVICE.PROMPT`)
    const hash = heard.find((n) => n.type === 'DEVICE.PAYMENT_RESULT' && n.result.status !== 'errored' && n.result.status !== 'canceled')
    if (hash?.type === 'DEVICE.PAYMENT_RESULT') t.match(hash.result.card_hash, /^\d+_[A-Za-z0-9+/=]+$/, `${label}: a card hash`)

    // After a cancel the pinpad shows the idle message; after CLO, the closing message.
    if (e.type === 'xstate.done.actor.cancelPinpad') t.same(pad.display.screen.lines, IDLE_LINES, `${label}: idle message on the display`)
    if (e.type === 'xstate.done.actor.closeLink' && !stalled && closedFrom !== 'connecting') {
      // CLOSE's message; closing for another reason (a failed sync, a failed cancel) shows none.
      t.same(pad.display.screen.lines, closedBy === 'CLOSE' ? ['    ATE LOGO', ''] : ['', ''], `${label}: CLO message`)
    }
    if (step.state.matches('closing') && !prev.matches('closing')) {
      closedBy = e.type
      closedFrom = leaf(prev.value)
    }
    if (e.type === 'xstate.error.actor.cancelPinpad') t.notOk(seen.includes('EOT'), `${label}: the hung pinpad never sent EOT`)

    cursor = at
    prev = step.state
  }

  // Card data lives only while a card is being processed.
  if (!['onChip', 'awaitingPin', 'processed'].includes(leaf(prev.value))) {
    await rig.until(() => rig.vault.size === 0, 'the vault to be empty')
    t.equal(rig.vault.size, 0, 'no card data left in the vault')
  }
  // Unplugged: the device is gone from the registry; plugged back, the same id connects again.
  const last = path.steps.at(-1)!.event
  if (last.type === 'LINK.CLOSED' && prev.matches('disconnected')) {
    t.same(rig.registry.list(), [], 'the unplugged device left the registry')
    rig.device.plug()
    t.equal(rig.registry.list()[0]?.id, 1, 'plugged back under the same id')
    rig.actor.send({ type: 'CONNECT', encryptionKey: 'ek_test_model_0123456789abcdef', simpleInitialize: true })
    const back = await rig.next(cursor + 1, (x) => x.kind === 'snap' && JSON.stringify(x.value) === JSON.stringify(stateAt('ready')), 'ready again after plug()')
    t.ok(notices(rig.log.slice(cursor + 1, back + 1)).some((n) => n.type === 'DEVICE.CONNECTED'), 'reconnected after plug()')
  }
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
    const actor = createActor(deviceMachine.provide({ actors: actors as never }), { input: { deviceId: '1' }, inspect: coverage.observe })
    actor.start()
    for (const step of path.steps) actor.send(step.event as never)
    actor.stop()
  }
  return coverage
}

const adj = adjacency()
const paths = coveragePaths(adj)
const initial = Object.values(adj)[0]!.state

t.test('the model', async (t) => {
  t.ok(paths.length > 40, `${paths.length} paths, ${paths.reduce((n, p) => n + p.steps.length, 0)} steps, from ${Object.keys(adj).length} model states`)
  t.equal(modelKey(initial), JSON.stringify({ v: 'disconnected' }))
  t.ok(paths.every((p) => p.steps[0]!.event.type === 'CONNECT'), 'every path starts with CONNECT')
  const classes = new Set(paths.flatMap((p) => p.steps.map((s) => paymentClass(s.state.context.payment))).filter(Boolean))
  t.same([...classes].sort(), ['00', '02', '13', '70', 'debit'], 'payment kinds chosen by the cents')
  const model = modelCoverage(paths)
  t.same(model.missingStates(), [], 'the paths visit every state node')
  t.same(model.missingTransitions(), [], 'the paths take every transition')
  t.comment(`model: ${model.summary()}`)
})

t.test('every path on a live device actor with the virtual pinpad', async (t) => {
  const sandbox = await startSandbox(t)
  const tablesDir = tempDir(t)
  const coverage = new Coverage(deviceMachine as never)
  const env: Env = { sandbox, tablesDir, coverage }
  for (const path of paths) {
    await t.test(path.description, (t) => runPath(t, path, initial, env))
  }

  t.test('coverage of the device machine by the live actors', async (t) => {
    t.same(coverage.missingStates(), [], 'every state node was visited')
    t.same(coverage.missingTransitions(), [], 'every transition was taken')
    t.comment(`live: ${coverage.summary()}`)
  })
})
