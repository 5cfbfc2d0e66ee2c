/**
 * A clock the test moves (src/clock.ts's `Clock`), for code that does no real I/O: the link over
 * an in-memory pair, the virtual pinpad, the cardholder's delays. Handed to the code under test as
 * its `clock` option, it replaces no global: the timers live in a @sinonjs/fake-timers clock
 * (createClock: ordering, intervals, refresh/unref handles), and time moves only when the test says.
 *
 * The in-memory pair delivers bytes through `clock.setImmediate`, which stays real but is counted:
 * `settle()` lets those deliveries and every promise they resolve happen, and only then does the
 * clock move to its next timer. So a 2 s ACK wait costs no real time, fires after everything that
 * was due before it, in the same order on every machine however busy — no margins.
 *
 * Two ways to drive it:
 *   - `clock.autoAdvance()` (most tests): whenever nothing but timers is left, the clock jumps to
 *     the next one. The test is written as in real time (await the answer; `await clock.sleep(300)`
 *     to let 300 ms pass) and timed assertions read `clock.now()`, exactly.
 *   - by hand: `await clock.advance(ms)`, `await clock.runUntil(() => done)`, `await clock.settle()`.
 *
 *   const clock = new ManualClock()
 *   t.teardown(clock.autoAdvance())
 *   const link = new HostLink(hostEnd, {}, { clock })
 *
 * Code that waits on real I/O (sockets, files, child processes) is not counted, so an auto-advancing
 * clock would run ahead of it. Two ways out:
 *   - hold the clock while the I/O is pending: `const release = clock.hold()` … `release()`, or
 *     `await clock.holdDuring(promise)`; `heldFetch(clock)` is a fetch that holds it for the whole
 *     exchange, body included. A held clock fires nothing and `settle()` waits for the holds, so the
 *     I/O takes no time on the clock, as if it were instant. `releaseDuring(promise)` lends a hold
 *     back while real I/O is parked on the test's own time (a server keeping a request until the
 *     test's timer lets it go). `waitFor(condition)` waits, the clock moving, until a condition
 *     holds (checked before every timer fires, so nothing moves on between the condition and the
 *     test's next step).
 *   - or drive the clock by hand (the acquirer client against a real HTTP server): wait for the I/O
 *     in real time (`waitUntil`), then fire the timer meant (`next()`).
 */
import { createClock, type Clock as FakeClock, type TimerId } from '@sinonjs/fake-timers'
import type { Clock, Timer } from '../../src/clock.js'

const realSetImmediate = globalThis.setImmediate
const realSetTimeout = globalThis.setTimeout
/** One real turn of the event loop: every immediate queued before it, and every microtask, first. */
const realTurn = () => new Promise<void>((resolve) => realSetImmediate(resolve))

export type RunOutcome = 'done' | 'idle' | 'limit'

/** How long `waitFor` lets the clock move before it gives up (a hang guard on the clock, not a timing). */
export const WAIT_FOR_LIMIT_MS = 600_000
/** How long `waitFor` waits in real time before it gives up: a leaked hold, nothing else, stops the clock that long. */
export const WAIT_FOR_REAL_MS = 60_000

interface Waiter {
  done: () => boolean
  resolve: () => void
}

export class ManualClock implements Clock {
  readonly #fake: FakeClock
  /** Deliveries queued with setImmediate and not yet run. */
  #immediates = 0
  /** Timers set so far (to know whether settling set up new ones). */
  #added = 0
  #auto = false
  /** Real I/O the clock waits for (`hold`), and holds lent back meanwhile (`releaseDuring`). */
  #holds = 0
  #lent = 0
  /** Resolves those waiting for the holds to end. */
  #unheld: Array<() => void> = []
  readonly #waiters = new Set<Waiter>()
  #wake: (() => void) | undefined
  /** Exceptions thrown by timer callbacks (uncaught exceptions, in a real process). */
  readonly errors: unknown[] = []

  constructor(start = 1_700_000_000_000) {
    this.#fake = createClock(start)
  }

  // --- Clock (arrow properties: they work detached, as XState calls them) -----------------

  now = (): number => this.#fake.now

  setTimeout = (fn: () => void, ms: number): Timer => {
    const timer = this.#fake.setTimeout(fn, ms) as unknown as Timer
    this.#added++
    this.#wake?.()
    return timer
  }

  clearTimeout = (timer: Timer | undefined): void => {
    if (timer !== undefined) this.#fake.clearTimeout(timer as unknown as TimerId)
  }

  setInterval = (fn: () => void, ms: number): Timer => {
    const timer = this.#fake.setInterval(fn, ms) as unknown as Timer
    this.#added++
    this.#wake?.()
    return timer
  }

  clearInterval = (timer: Timer | undefined): void => {
    if (timer !== undefined) this.#fake.clearInterval(timer as unknown as TimerId)
  }

  setImmediate = (fn: () => void): void => {
    this.#immediates++
    realSetImmediate(() => {
      this.#immediates--
      fn()
    })
    this.#wake?.()
  }

  // --- Driving it -----------------------------------------------------------------------

  /** Timers pending (intervals included). */
  get pendingTimers(): number {
    return this.#fake.countTimers()
  }

  /** Resolves after `ms` of this clock (a test's way to let time pass). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms))
  }

  /**
   * Lets every delivery in flight and every promise it settles happen, and the real I/O held
   * meanwhile finish; the time does not move.
   */
  async settle(): Promise<void> {
    for (;;) {
      await realTurn()
      if (this.#immediates > 0) continue
      if (!this.held) return
      await new Promise<void>((resolve) => this.#unheld.push(resolve))
    }
  }

  // --- Real I/O -------------------------------------------------------------------------

  /** Whether real I/O is pending that the clock waits for. */
  get held(): boolean {
    return this.#holds - this.#lent > 0
  }

  /**
   * Keeps the clock where it is — nothing fires, `settle()` waits — until the returned function is
   * called (once; more calls do nothing): for real I/O in flight (an HTTP exchange, a file, a
   * WebSocket round trip), which the clock cannot see.
   */
  hold(): () => void {
    this.#holds++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#holds--
      this.#holdsChanged()
    }
  }

  /** `work`, the clock held until it settles. */
  async holdDuring<T>(work: Promise<T>): Promise<T> {
    const release = this.hold()
    try {
      return await work
    } finally {
      release()
    }
  }

  /**
   * `work`, one hold lent back until it settles: the I/O a hold covers is parked on the test's
   * time (a server keeping a request until a timer of this clock lets it go), so time may move.
   */
  async releaseDuring<T>(work: Promise<T>): Promise<T> {
    this.#lent++
    this.#holdsChanged()
    try {
      return await work
    } finally {
      this.#lent--
      this.#holdsChanged()
    }
  }

  #holdsChanged(): void {
    if (!this.held) for (const resolve of this.#unheld.splice(0)) resolve()
    this.#wake?.()
  }

  /**
   * Resolves once `done()` holds, the clock moving meanwhile: auto-advancing, it is checked whenever
   * everything due has settled, before the next timer fires (so that the test's next step comes
   * before anything that timer would do); otherwise the clock is driven here (`runUntil`). Rejects
   * when the clock has moved `limitMs` without it (nothing that can still happen makes it true),
   * or after `realMs` of real time (a hold never released).
   */
  waitFor(done: () => boolean, what = 'a condition', limitMs = WAIT_FOR_LIMIT_MS, realMs = WAIT_FOR_REAL_MS): Promise<void> {
    if (done()) return Promise.resolve()
    if (!this.#auto) {
      return this.runUntil(done, limitMs).then((outcome) => {
        if (outcome !== 'done') throw new Error(`waited for ${what}: ${outcome === 'idle' ? 'nothing was left to happen' : `the clock moved ${limitMs} ms`}`)
      })
    }
    return new Promise<void>((resolve, reject) => {
      const fail = (why: string) => {
        end()
        reject(new Error(`waited for ${what}: ${why}`))
      }
      // On the clock: when it is reached, nothing before it made `done()` true.
      const guard = this.#fake.setTimeout(() => fail(`the clock moved ${limitMs} ms`), limitMs)
      const hang = realSetTimeout(() => fail(`${realMs} ms of real time went by (the clock ${this.held ? 'held all along' : 'not moving'})`), realMs)
      hang.unref()
      const end = () => {
        this.#waiters.delete(waiter)
        this.#fake.clearTimeout(guard)
        clearTimeout(hang)
      }
      const waiter: Waiter = {
        done,
        resolve: () => {
          end()
          resolve()
        },
      }
      this.#waiters.add(waiter)
      this.#wake?.()
    })
  }

  /** Resolves the waiters whose condition holds; whether there were any. */
  #resolveWaiters(): boolean {
    let any = false
    for (const w of [...this.#waiters]) {
      let done = false
      try {
        done = w.done()
      } catch {
        done = false
      }
      if (done) {
        w.resolve()
        any = true
      }
    }
    return any
  }

  /** Fires the earliest timer (the time jumps to it), after everything before it settled. */
  async next(): Promise<void> {
    await this.settle()
    if (!this.#fake.countTimers()) throw new Error('ManualClock.next(): no timer is pending')
    this.#fireNext()
    await this.settle()
  }

  /**
   * Moves the time by `ms`, firing the timers due by then in order (those the firing itself sets
   * up included), each after everything before it settled.
   */
  async advance(ms: number): Promise<void> {
    const target = this.now() + Math.max(0, ms)
    for (;;) {
      await this.settle()
      const added = this.#added
      // A marker at the target, behind every timer already due by then: fired first, none is left.
      let reached = false
      const marker = this.#fake.setTimeout(() => (reached = true), target - this.now())
      this.#fireNext()
      if (!reached) {
        this.#fake.clearTimeout(marker)
        continue
      }
      await this.settle()
      if (this.#added === added) return // nothing new was set up: nothing more can be due
    }
  }

  /**
   * Fires timer after timer (settling in between) until `done()` ('done'), no timer is left
   * ('idle': nothing can wake the code any more) or the time has moved by `limitMs` ('limit').
   */
  async runUntil(done: () => boolean = () => false, limitMs = 3_600_000): Promise<RunOutcome> {
    let limit = false
    const sentinel = this.#fake.setTimeout(() => (limit = true), limitMs)
    try {
      for (;;) {
        await this.settle()
        if (done()) return 'done'
        if (limit) return 'limit'
        if (this.#fake.countTimers() <= 1) return 'idle' // the sentinel alone
        this.#fireNext()
      }
    } finally {
      this.#fake.clearTimeout(sentinel)
    }
  }

  /**
   * From now on, whenever nothing but timers is left to happen, the time jumps to the next timer
   * and fires it. Returns the function that stops it (hand it to `t.teardown`).
   */
  autoAdvance(): () => void {
    if (this.#auto) throw new Error('this ManualClock already advances on its own')
    this.#auto = true
    void this.#drive()
    return () => {
      this.#auto = false
      this.#wake?.()
    }
  }

  async #drive(): Promise<void> {
    while (this.#auto) {
      await this.settle()
      if (!this.#auto) return
      // A test waiting for this moment goes on before anything else happens.
      if (this.#resolveWaiters()) continue
      if (this.#fake.countTimers() > 0) {
        this.#fireNext()
        continue
      }
      // Nothing scheduled: wait until the code under test schedules something (or the test stops us).
      await new Promise<void>((resolve) => (this.#wake = resolve))
      this.#wake = undefined
    }
  }

  #fireNext(): void {
    try {
      this.#fake.next()
    } catch (err) {
      // A timer callback threw: in a real process that is an uncaught exception, so it is one here too.
      this.errors.push(err)
      realSetImmediate(() => {
        throw err
      })
    }
  }
}

/**
 * Waits in real time until `condition()` holds — for real I/O (a request reaching a server) in a
 * test that moves a ManualClock by hand. A hang guard, not a timing: `realMs` only bounds a failure.
 */
export async function waitUntil(condition: () => boolean, what: string, realMs = 10_000): Promise<void> {
  const giveUpAt = Date.now() + realMs
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`waited ${realMs} ms for ${what}`)
    await new Promise((resolve) => realSetTimeout(resolve, 2))
  }
}

/** Statuses whose responses have no body (a Response cannot be built with one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

/**
 * A fetch that holds `clock` for the whole exchange, the body included (read here and handed back
 * whole): over a real socket, it takes no time on the clock.
 */
export function heldFetch(clock: ManualClock, base: typeof fetch = (input, init) => fetch(input, init)): typeof fetch {
  return (input, init) =>
    clock.holdDuring(
      (async () => {
        const res = await base(input, init)
        const body = NULL_BODY.has(res.status) ? null : await res.arrayBuffer()
        return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
      })(),
    )
}
