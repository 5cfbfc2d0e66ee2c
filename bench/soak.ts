/**
 * `npm run bench:soak`: a soak run of the whole bridge, in figures (no assertions). See
 * bench/README.md, "Soak".
 *
 *   (1) 10,000 consecutive payments on the virtual pinpad (cardholder delays 0) through /ws over
 *       a real WebSocket: one initialize, then process_payment → finish_payment, approved amounts,
 *       chip, contactless and magstripe cards in turn. Failures by code; payments/s; latency
 *       percentiles; heap and RSS after a forced GC every `interval` payments, and their slope
 *       over the second half.
 *   (2) 500 WebSocket connections at once, each sending `status` several times: sent vs answered,
 *       latency percentiles, errors; the file-descriptor limit; what is left once they close.
 *
 * Run with `node --expose-gc` (the npm script does). Options (flag or environment variable):
 *   --payments N     SOAK_PAYMENTS     payments in (1)                 (10000)
 *   --interval N     SOAK_INTERVAL     payments between memory readings (500)
 *   --connections N  SOAK_CONNECTIONS  connections in (2)              (500)
 *   --rounds N       SOAK_ROUNDS       status requests per connection  (5)
 *   --waves N        SOAK_WAVES        times (2) is repeated, to see what closed connections leave (3)
 *   --heap-snapshots SOAK_HEAP_SNAPSHOTS=1  write a .heapsnapshot (in the temp dir) at the halfway point and the end
 */
import { readdirSync, readFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'
import type { AnyActorRef } from 'xstate'
import type { Presentation } from '../src/simulator/cardholder.js'
import { findCard } from '../src/simulator/cards.js'
import { outcomeForAmount } from '../src/outcomes.js'
import { CallTimeoutError, fmt, forceGc, gcExposedByFlag, millis, now, percentile, seconds, startBenchBridge, wsClient, type Answer, type BenchBridge, type Client } from './lib.js'

const { values: flags } = parseArgs({
  options: {
    payments: { type: 'string' },
    interval: { type: 'string' },
    connections: { type: 'string' },
    rounds: { type: 'string' },
    waves: { type: 'string' },
    'heap-snapshots': { type: 'boolean' },
  },
})
const option = (flag: string | undefined, env: string, fallback: number): number => {
  const text = flag ?? process.env[env]
  const n = text === undefined ? fallback : Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${env} / --${env.slice(5).toLowerCase()} must be a positive integer, not ${text}`)
  return n
}
const PAYMENTS = option(flags.payments, 'SOAK_PAYMENTS', 10_000)
const INTERVAL = Math.min(PAYMENTS, option(flags.interval, 'SOAK_INTERVAL', 500))
const CONNECTIONS = option(flags.connections, 'SOAK_CONNECTIONS', 500)
const ROUNDS = option(flags.rounds, 'SOAK_ROUNDS', 5)
const WAVES = option(flags.waves, 'SOAK_WAVES', 3)
const HEAP_SNAPSHOTS = flags['heap-snapshots'] === true || process.env.SOAK_HEAP_SNAPSHOTS === '1'

const MB = 1e6
const EK = 'ek_test_soaksoaksoaksoaksoak1234'
/** The issuer answer a shop server passes on for a chip card (8A "00", 91 ARPC + ARC). */
const ISSUER_DATA = '8A023030910A0102030405060708' + '3030'

const line = (cells: Array<string | number>, widths: number[]) =>
  console.log(cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join(' '))

// ---------------------------------------------------------------------------------------------
// What the process holds: memory and the objects that could grow

/** Linux: the soft limit on open files, from /proc/self/limits. */
function fdLimit(): string {
  try {
    const row = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const [soft, hard] = row?.split(/\s{2,}/).slice(1, 3) ?? []
    return soft ? `${soft} (hard ${hard})` : 'unknown'
  } catch {
    return 'unknown (no /proc/self/limits)'
  }
}

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return undefined
  }
}

/**
 * Every actor the bridge's actor system creates from now on, held weakly: after a full GC, the
 * ones still reachable are what the process retains, and those no longer running among them
 * (stopped, done) are retained by something that forgot to let them go.
 */
function watchActors(bridge: BenchBridge): () => { alive: number; notRunning: number } {
  let refs: Array<WeakRef<AnyActorRef>> = []
  bridge.server.runtime.root.system.inspect((e) => {
    if (e.type === '@xstate.actor') refs.push(new WeakRef(e.actorRef as AnyActorRef))
  })
  return () => {
    refs = refs.filter((r) => r.deref() !== undefined)
    const notRunning = refs.filter((r) => r.deref()!.getSnapshot().status !== 'active').length
    return { alive: refs.length, notRunning }
  }
}
let liveActors: () => { alive: number; notRunning: number } = () => ({ alive: 0, notRunning: 0 })

interface Counts {
  /** Cards in the vault (must be 0 between payments). */
  vault: number
  /** Session deliverers in the runtime (one per open connection). */
  sessions: number
  /** The bridge machine's context: sessions and contexts lists. */
  bridgeSessions: number
  contexts: number
  /** Children of the root actor (contexts + sessions). */
  rootChildren: number
  /** Sessions attached to the context "default". */
  contextSessions: number
  /** Children of the device actor (the invoked step, if any). */
  deviceChildren: number
  /** Actors created since the bench began, still reachable; and those of them no longer running. */
  actors: number
  actorsNotRunning: number
  /** Active handles and requests (timers, sockets…) of the process. */
  resources: number
  fds: number | undefined
}

function counts(bridge: BenchBridge): Counts {
  const rt = bridge.server.runtime
  const root = rt.root.getSnapshot()
  const ctx = rt.root.system.get('context:default') as AnyActorRef | undefined
  const device = rt.root.system.get('device:1') as AnyActorRef | undefined
  const actors = liveActors()
  return {
    vault: rt.vault.size,
    sessions: rt.sessionCount,
    bridgeSessions: Object.keys(root.context.sessions).length,
    contexts: Object.keys(root.context.contexts).length,
    rootChildren: Object.keys(root.children).length,
    contextSessions: (ctx?.getSnapshot().context.sessions as unknown[] | undefined)?.length ?? 0,
    deviceChildren: Object.keys(device?.getSnapshot().children ?? {}).length,
    actors: actors.alive,
    actorsNotRunning: actors.notRunning,
    resources: process.getActiveResourcesInfo().length,
    fds: openFds(),
  }
}

const showCounts = (c: Counts) =>
  `vault ${c.vault}, runtime sessions ${c.sessions}, bridge sessions ${c.bridgeSessions}, root children ${c.rootChildren}, ` +
  `sessions on context "default" ${c.contextSessions}, device children ${c.deviceChildren}, actors alive ${c.actors} (not running ${c.actorsNotRunning}), ` +
  `active resources ${c.resources}, open fds ${c.fds ?? '?'}`

interface Reading {
  payments: number
  heapUsed: number
  /** Compiled code in the heap (code spaces): it grows and shrinks with the JIT, not with data. */
  code: number
  /** heapUsed without the code: the objects. */
  objects: number
  rss: number
  external: number
  arrayBuffers: number
  counts: Counts
}

async function reading(payments: number, bridge: BenchBridge): Promise<Reading> {
  await forceGc()
  const m = process.memoryUsage()
  const code = getHeapSpaceStatistics()
    .filter((s) => s.space_name.startsWith('code'))
    .reduce((sum, s) => sum + s.space_used_size, 0)
  return { payments, heapUsed: m.heapUsed, code, objects: m.heapUsed - code, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, counts: counts(bridge) }
}

/** Least-squares slope of y over x, and its standard error (NaN with fewer than 3 points). */
function fit(points: Array<[number, number]>): { slope: number; se: number } {
  const n = points.length
  if (n < 2) return { slope: NaN, se: NaN }
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  let sxy = 0
  let sxx = 0
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my)
    sxx += (x - mx) ** 2
  }
  const slope = sxy / sxx
  const residuals = points.reduce((s, [x, y]) => s + (y - my - slope * (x - mx)) ** 2, 0)
  return { slope, se: n > 2 ? Math.sqrt(residuals / (n - 2) / sxx) : NaN }
}

/**
 * Growing: the slope is above two standard errors (so not the noise of readings after GC) and
 * above `floor` bytes per unit (what would matter: see bench/README.md). Else flat.
 */
const verdict = ({ slope, se }: { slope: number; se: number }, floor: number) =>
  Number.isNaN(slope) ? 'n/a (too few readings)' : slope > floor && !(slope <= 2 * se) ? 'GROWING' : 'flat'

// ---------------------------------------------------------------------------------------------
// (1) consecutive payments

interface CardPlan {
  card: string
  how: Presentation
  group: 'chip' | 'contactless' | 'magstripe'
  magstripePaymentMethod?: 'debit_card'
}

/** Every card that completes an approved payment, with how the cardholder presents it. */
const CARDS: CardPlan[] = [
  { card: 'visa-credit', how: 'insert', group: 'chip' },
  { card: 'visa-contactless', how: 'tap', group: 'contactless' },
  { card: 'magstripe-credit', how: 'swipe', group: 'magstripe' },
  { card: 'mastercard-credit', how: 'insert', group: 'chip' },
  { card: 'mastercard-contactless', how: 'tap', group: 'contactless' },
  { card: 'magstripe-debit', how: 'swipe', group: 'magstripe', magstripePaymentMethod: 'debit_card' },
  { card: 'elo-credit', how: 'insert', group: 'chip' },
  { card: 'mastercard-contactless-magstripe', how: 'tap', group: 'contactless' },
  { card: 'visa-electron-debit', how: 'insert', group: 'chip' },
  { card: 'maestro-debit', how: 'insert', group: 'chip' },
  { card: 'visa-credit-offline-pin', how: 'insert', group: 'chip' },
]
/**
 * Cents that end approved (README "Outcomes by amount"): 00 online, 02 offline PIN on chip cards,
 * 03 online PIN for every card, and cents the table does not list (they behave as 00). Seven of
 * them against eleven cards: every card meets every cents value over 77 payments.
 */
const CENTS = [0, 2, 3, 10, 37, 64, 99]
for (const c of CENTS) if (outcomeForAmount(c).acquirerResponseCode !== '0000' || outcomeForAmount(c).pinpad === 'no-card') throw new Error(`cents ${c} is not an approved outcome`)

const planFor = (i: number) => {
  const card = CARDS[i % CARDS.length]!
  // R$ 1.00 … R$ 499.xx: every amount under the contactless transaction limit of the default tables.
  const amount = (1 + (i % 499)) * 100 + CENTS[i % CENTS.length]!
  return { ...card, amount }
}

/** "SILVA/ANA" (the card's ISO 7813 form) and "ANA SILVA" (the bridge's answer) are the same holder. */
const nameWords = (name: string) => name.split(/[\s/]+/).filter(Boolean).sort().join(' ')

interface Failure {
  payment: number
  card: string
  amount: number
  step: 'process_payment' | 'finish_payment'
  code: string
  detail: string
}

async function soak(bridge: BenchBridge): Promise<void> {
  const pad = bridge.server.runtime.virtualPinpads[0]!
  // The bench is the cardholder: it presents the planned card the moment the pinpad asks (one
  // presentation per payment: a card the pinpad ignores makes the payment fail, visibly), and
  // takes a chip card back the moment it is asked to. The PIN is typed by the simulator at once.
  let next: { card: string; how: Presentation } | undefined
  pad.cardholder.onEvent((e) => {
    if (e.type === 'asked-for-card' && next) {
      const { card, how } = next
      next = undefined
      queueMicrotask(() => pad.cardholder.present(card, how))
    } else if (e.type === 'asked-to-remove') {
      queueMicrotask(() => pad.cardholder.remove())
    }
  })

  const client = await wsClient(bridge.url)
  const init = await client.call({ command: 'initialize', encryption_key: EK, device_id: 1 })
  if (!init.success) throw new Error(`initialize failed: ${init.code} ${init.error}`)

  const failures: Failure[] = []
  const byGroup = { chip: 0, contactless: 0, magstripe: 0 }
  const totals: number[] = []
  const processOnly: number[] = []
  const finishOnly: number[] = []

  const pay = async (i: number): Promise<void> => {
    const plan = planFor(i)
    const fail = (step: Failure['step'], code: string, detail: string) => failures.push({ payment: i + 1, card: plan.card, amount: plan.amount, step, code, detail })
    next = { card: plan.card, how: plan.how }
    const t0 = now()
    let paid: Answer
    try {
      paid = await client.call({ command: 'process_payment', amount: plan.amount, ...(plan.magstripePaymentMethod ? { magstripe_payment_method: plan.magstripePaymentMethod } : {}) })
    } catch (err) {
      next = undefined
      fail('process_payment', err instanceof CallTimeoutError ? err.code : 'BENCH_ERROR', String(err))
      return
    }
    next = undefined
    const t1 = now()
    const accepted = paid.success && paid.response?.status === 'accepted' && typeof paid.response.card_hash === 'string'
    // The card the pinpad read is the one planned (each test card has its own holder name).
    const holder = findCard(plan.card).holderName
    const wrongCard = accepted && typeof paid.response.card_holder_name === 'string' && nameWords(paid.response.card_holder_name) !== nameWords(holder)
    if (!accepted) fail('process_payment', String(paid.response?.error_code ?? paid.code ?? paid.response?.status), String(paid.response?.error ?? paid.error ?? JSON.stringify(paid.response)))
    else if (wrongCard) fail('process_payment', 'BENCH_WRONG_CARD', `read "${paid.response.card_holder_name}", presented ${plan.card} ("${holder}")`)
    // finish_payment is obligatory after every process_payment, even a failed one.
    let finish: Answer
    try {
      finish = await client.call({ command: 'finish_payment', success: true, response_code: '0000', ...(plan.group === 'chip' ? { emv_data: ISSUER_DATA } : {}) })
    } catch (err) {
      fail('finish_payment', err instanceof CallTimeoutError ? err.code : 'BENCH_ERROR', String(err))
      return
    }
    const t2 = now()
    if (!accepted || wrongCard) return
    if (!finish.success) fail('finish_payment', String(finish.code), String(finish.error))
    else if (finish.response?.approved !== true) fail('finish_payment', 'NOT_APPROVED', JSON.stringify(finish.response))
    else {
      byGroup[plan.group]++
      totals.push(millis(t2 - t0))
      processOnly.push(millis(t1 - t0))
      finishOnly.push(millis(t2 - t1))
    }
  }

  console.log(`(1) ${fmt(PAYMENTS, 0)} consecutive payments through /ws, cardholder delays 0; a forced GC and a memory reading every ${fmt(INTERVAL, 0)} payments`)
  console.log(`    cards in turn: ${CARDS.map((c) => `${c.card} (${c.how})`).join(', ')}`)
  console.log(`    cents in turn: ${CENTS.map((c) => String(c).padStart(2, '0')).join(', ')} (all approved); amounts R$ 1.00 … R$ 499.99`)
  console.log()
  const w = [10, 9, 9, 11, 9, 9, 12, 7, 7, 10]
  line(['payments', 'heap MB', 'code MB', 'objects MB', 'rss MB', 'external', 'payments/s', 'fails', 'vault', 'resources'], w)
  const readings: Reading[] = [await reading(0, bridge)]
  const show = (r: Reading, rate: string) =>
    line([fmt(r.payments, 0), fmt(r.heapUsed / MB, 2), fmt(r.code / MB, 2), fmt(r.objects / MB, 2), fmt(r.rss / MB, 1), fmt(r.external / MB, 2), rate, failures.length, r.counts.vault, r.counts.resources], w)
  show(readings[0]!, '')
  let busy = 0n
  const snapshots: string[] = []
  for (let done = 0; done < PAYMENTS; ) {
    const upTo = Math.min(PAYMENTS, done + INTERVAL)
    const t0 = now()
    for (; done < upTo; done++) await pay(done)
    const spent = now() - t0
    busy += spent
    const r = await reading(done, bridge)
    readings.push(r)
    show(r, fmt((upTo - readings.at(-2)!.payments) / seconds(spent), 1))
    if (HEAP_SNAPSHOTS && (done === Math.floor(PAYMENTS / 2 / INTERVAL) * INTERVAL || done === PAYMENTS)) snapshots.push(writeHeapSnapshot(path.join(tmpdir(), `mpos-soak-${process.pid}-${done}.heapsnapshot`)))
  }
  const last = readings.at(-1)!
  const closed = await client.call({ command: 'close' })
  console.log()

  // Throughput and latency
  const ok = totals.length
  totals.sort((a, b) => a - b)
  processOnly.sort((a, b) => a - b)
  finishOnly.sort((a, b) => a - b)
  console.log(
    `    ${fmt(PAYMENTS, 0)} payments in ${fmt(seconds(busy), 1)} s (GC and readings excluded): ${fmt(PAYMENTS / seconds(busy), 1)} payments/s; ` +
      `approved ${fmt(ok, 0)} (chip ${byGroup.chip}, contactless ${byGroup.contactless}, magstripe ${byGroup.magstripe}); failures ${failures.length}`,
  )
  const w2 = [34, 10, 10, 10, 10]
  line(['latency, ms', 'p50', 'p95', 'p99', 'max'], w2)
  for (const [name, s] of [
    ['process_payment + finish_payment', totals],
    ['  process_payment', processOnly],
    ['  finish_payment', finishOnly],
  ] as const) {
    if (s.length) line([name, fmt(percentile(s, 50), 2), fmt(percentile(s, 95), 2), fmt(percentile(s, 99), 2), fmt(s.at(-1)!, 2)], w2)
  }
  if (failures.length) {
    const codes = new Map<string, number>()
    for (const f of failures) codes.set(`${f.step} ${f.code}`, (codes.get(`${f.step} ${f.code}`) ?? 0) + 1)
    console.log(`    failures by code: ${[...codes].map(([c, n]) => `${c} × ${n}`).join('; ')}`)
    for (const f of failures.slice(0, 5)) console.log(`      #${f.payment} ${f.card} ${f.amount}: ${f.step} ${f.code} — ${f.detail.slice(0, 200)}`)
  }
  console.log()

  // Memory: the slope over the second half (the first is warm-up: JIT, caches, pools)
  const half = readings.filter((r) => r.payments >= PAYMENTS / 2)
  const first = readings[0]!
  const mid = half[0]!
  console.log(`    memory after a forced GC (bridge and client share this process); slope: least squares over the ${half.length} readings from ${fmt(mid.payments, 0)} payments on, ± one standard error`)
  const w3 = [14, 10, 10, 10, 16, 22, 9]
  line(['', 'start MB', 'half MB', 'end MB', 'whole run B/pay', '2nd-half slope B/pay', ''], w3)
  // Floors: 100 B of heap per payment is 1 MB per 10,000 payments; RSS moves in allocator pages.
  const floors = { heapUsed: 100, code: 100, objects: 100, rss: 800, external: 100, arrayBuffers: 100 }
  const verdicts: Record<string, string> = {}
  for (const key of ['heapUsed', 'code', 'objects', 'rss', 'external', 'arrayBuffers'] as const) {
    const f = fit(half.map((r) => [r.payments, r[key]]))
    verdicts[key] = verdict(f, floors[key])
    line(
      [key === 'code' ? '  of it code' : key === 'objects' ? '  objects' : key, fmt(first[key] / MB, 2), fmt(mid[key] / MB, 2), fmt(last[key] / MB, 2), fmt((last[key] - first[key]) / PAYMENTS, 0), `${fmt(f.slope, 0)} ± ${fmt(f.se, 0)}`, verdict(f, floors[key])],
      w3,
    )
  }
  console.log(`    growing = a slope above two standard errors and above ${floors.heapUsed} B/payment (heap) or ${floors.rss} B/payment (rss); else flat`)
  console.log(
    `    => heap objects ${verdicts.objects}, heap used ${verdicts.heapUsed} (code ${verdicts.code}), rss ${verdicts.rss}` +
      (PAYMENTS < 4000 ? ` (a short run: warm-up may not be over by the halfway point)` : ''),
  )
  console.log(`    at the start: ${showCounts(first.counts)}`)
  console.log(`    at the end:   ${showCounts(last.counts)}`)
  console.log(`    close: ${closed.success ? 'ok' : `${closed.code} ${closed.error}`}`)
  if (snapshots.length) console.log(`    heap snapshots: ${snapshots.join(', ')} (compare them in Chrome DevTools → Memory)`)
  await client.close()
  console.log()
}

// ---------------------------------------------------------------------------------------------
// (2) many connections at once

interface Wave {
  connected: number
  refused: string[]
  connectMs: number
  fdsOpen: number | undefined
  whileOpen: Counts
  sent: number
  answered: number
  errors: Map<string, number>
  answersPerS: number
  /** Status latencies, ms, ascending. */
  latencies: number[]
  /** After every connection closed and a forced GC. */
  after: Reading
}

/** CONNECTIONS clients connect at once; each sends `status` ROUNDS times in a row; all close. */
async function wave(bridge: BenchBridge, baseline: number): Promise<Wave> {
  const t0 = now()
  const opened = await Promise.allSettled(Array.from({ length: CONNECTIONS }, () => wsClient(bridge.url)))
  const connectMs = millis(now() - t0)
  const clients = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
  const refused = opened.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).message ?? o.reason)] : []))
  const whileOpen = counts(bridge)

  let sent = 0
  let answered = 0
  const latencies: number[] = []
  const errors = new Map<string, number>()
  const error = (code: string) => errors.set(code, (errors.get(code) ?? 0) + 1)
  const t1 = now()
  await Promise.all(
    clients.map(async (c: Client) => {
      for (let r = 0; r < ROUNDS; r++) {
        const s = now()
        sent++
        try {
          const a = await c.call({ command: 'status' }, 30_000)
          if (a.success && typeof a.response?.status === 'string') {
            answered++
            latencies.push(millis(now() - s))
          } else error(String(a.code ?? 'no status in the answer'))
        } catch (err) {
          error(err instanceof CallTimeoutError ? err.code : String(err))
        }
      }
    }),
  )
  const spent = seconds(now() - t1)
  for (const c of clients) for (const e of c.errors) error(`socket: ${e}`)
  latencies.sort((a, b) => a - b)

  await Promise.all(clients.map((c) => c.close()))
  // The server side notices the closes a moment later.
  const deadline = Date.now() + 5000
  while (Date.now() < deadline && bridge.server.runtime.sessionCount > baseline) await new Promise((r) => setTimeout(r, 20))
  return { connected: clients.length, refused, connectMs, fdsOpen: whileOpen.fds, whileOpen, sent, answered, errors, answersPerS: answered / spent, latencies, after: await reading(0, bridge) }
}

async function connections(bridge: BenchBridge): Promise<void> {
  console.log(`(2) ${fmt(CONNECTIONS, 0)} WebSocket connections at once, each sending status ${ROUNDS} times in a row (all connections in parallel); ${WAVES} wave(s), one after the other`)
  console.log(`    open-file limit of this process (ulimit -n): ${fdLimit()}; each connection takes 2 descriptors here (client and server end in one process)`)
  const before = await reading(0, bridge)
  const waves: Wave[] = []
  const w = [6, 10, 11, 8, 9, 7, 9, 9, 9, 9, 11]
  line(['wave', 'connected', 'connect ms', 'sent', 'answered', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'answers/s'], w)
  for (let i = 1; i <= WAVES; i++) {
    const r = await wave(bridge, before.counts.sessions)
    waves.push(r)
    const l = r.latencies
    const errs = [...r.errors.values()].reduce((a, b) => a + b, 0) + r.refused.length
    line([i, `${r.connected}/${CONNECTIONS}`, fmt(r.connectMs, 0), r.sent, r.answered, errs, ...[50, 95, 99].map((p) => (l.length ? fmt(percentile(l, p), 1) : '-')), l.length ? fmt(l.at(-1)!, 1) : '-', fmt(r.answersPerS, 0)], w)
    if (r.refused.length) console.log(`      refused: ${[...new Set(r.refused)].join('; ')}`)
    if (r.errors.size) console.log(`      errors: ${[...r.errors].map(([c, n]) => `${c} × ${n}`).join('; ')}`)
  }
  console.log()
  console.log(`    before:             ${showCounts(before.counts)}`)
  console.log(`    wave 1, while open: ${showCounts(waves[0]!.whileOpen)}`)
  waves.forEach((r, i) => console.log(`    after wave ${i + 1} closed: ${showCounts(r.after.counts)}`))
  const w2 = [20, 10, 10, 14, 20]
  line(['after a forced GC', 'heap MB', 'rss MB', 'root children', 'actors not running'], w2)
  line(['before', fmt(before.heapUsed / MB, 2), fmt(before.rss / MB, 1), before.counts.rootChildren, before.counts.actorsNotRunning], w2)
  waves.forEach((r, i) => line([`after wave ${i + 1}`, fmt(r.after.heapUsed / MB, 2), fmt(r.after.rss / MB, 1), r.after.counts.rootChildren, r.after.counts.actorsNotRunning], w2))
  if (waves.length > 1) {
    // Wave 1 warms up (JIT, ws and fastify pools); from there on, what stays per connection.
    const first = waves[0]!.after
    const last = waves.at(-1)!.after
    const n = CONNECTIONS * (waves.length - 1)
    console.log(
      `    left behind per closed connection, after wave 1: ${fmt((last.heapUsed - first.heapUsed) / n, 0)} B of heap, ` +
        `${fmt((last.counts.rootChildren - first.counts.rootChildren) / n, 2)} root children, ${fmt((last.counts.actorsNotRunning - first.counts.actorsNotRunning) / n, 2)} actors no longer running`,
    )
  }
  console.log()
}

// ---------------------------------------------------------------------------------------------

const started = now()
const cpu = cpus()
console.log(
  `mpos-bridge soak — ${new Date().toISOString()} — node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ` +
    `${fmt(totalmem() / 2 ** 30, 1)} GiB, load ${loadavg().map((l) => fmt(l, 1)).join(' ')}${gcExposedByFlag ? '' : ' (gc through v8.setFlagsFromString: run node with --expose-gc)'}`,
)
console.log()
const bridge = await startBenchBridge({ simulator: { cardholder: { autoCard: null, presentAfterMs: 0, pinAfterMs: 0, removeAfterMs: 0 } } })
liveActors = watchActors(bridge)
try {
  await soak(bridge)
  await connections(bridge)
} finally {
  await bridge.close()
}
console.log(`total ${fmt(seconds(now() - started), 1)} s; load average at the end ${loadavg().map((l) => fmt(l, 1)).join(' ')}`)
