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
 * clock would run ahead of it. Such a test (the acquirer client against a real HTTP server) drives
 * the clock by hand: it waits for the I/O in real time (`waitUntil`), then fires the timer it means
 * (`next()`).
 */
import { createClock, type Clock as FakeClock, type TimerId } from '@sinonjs/fake-timers'
import type { Clock, Timer } from '../../src/clock.js'

const realSetImmediate = globalThis.setImmediate
const realSetTimeout = globalThis.setTimeout
/** One real turn of the event loop: every immediate queued before it, and every microtask, first. */
const realTurn = () => new Promise<void>((resolve) => realSetImmediate(resolve))

export type RunOutcome = 'done' | 'idle' | 'limit'

export class ManualClock implements Clock {
  readonly #fake: FakeClock
  /** Deliveries queued with setImmediate and not yet run. */
  #immediates = 0
  /** Timers set so far (to know whether settling set up new ones). */
  #added = 0
  #auto = false
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

  /** Lets every delivery in flight and every promise it settles happen; the time does not move. */
  async settle(): Promise<void> {
    do await realTurn()
    while (this.#immediates > 0)
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
