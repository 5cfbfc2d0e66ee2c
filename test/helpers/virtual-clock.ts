/**
 * A virtual clock for tests that run thousands of timed link exchanges: while installed, the
 * global setTimeout/clearTimeout/setInterval/clearInterval and Date.now are replaced, so a 2 s ACK
 * wait or a 500 ms silence costs no real time and happens in the same order on every machine.
 * setImmediate stays real (the in-memory ByteStream pair delivers bytes with it) but is counted,
 * so `run()` knows when everything but the timers has happened: only then does it move the clock
 * to the next timer. Nothing else can wake the code under test, so "no timer and not done" means
 * it would wait forever (a hang).
 *
 *   const clock = new VirtualClock()
 *   clock.install()
 *   try { const outcome = await clock.run(() => settled) } finally { clock.uninstall() }
 *
 * Install it only around code that uses no real I/O (sockets, files, child processes): their
 * callbacks are not counted and would race with the virtual time.
 *
 * Other tests hand the code a ManualClock (./manual-clock.ts) through its `clock` option instead.
 * This one stays for the fuzz harness, which schedules with the global timers itself and reuses
 * pinpads across cases; src/clock.ts's systemClock looks the globals up on every call, so the code
 * under test follows this clock too. Its semantics (Node's 1 ms minimum delay, clearable counted
 * immediates, timer exceptions collected for the harness to report with the seed) are what the
 * fuzzers' recorded seeds replay under.
 */

type Callback = (...args: unknown[]) => void

interface Entry {
  id: number
  at: number
  /** Creation order among timers due at the same time (Node runs them in that order). */
  seq: number
  delay: number
  repeat: boolean
  fn: Callback
  args: unknown[]
  handle: VirtualTimeout
}

/** What setTimeout returns under the clock: the parts of NodeJS.Timeout the code uses. */
export class VirtualTimeout {
  #ref = true
  constructor(
    readonly clock: VirtualClock,
    readonly id: number,
  ) {}
  ref(): this {
    this.#ref = true
    return this
  }
  unref(): this {
    this.#ref = false
    return this
  }
  hasRef(): boolean {
    return this.#ref
  }
  refresh(): this {
    this.clock.refresh(this.id)
    return this
  }
  close(): this {
    this.clock.clear(this.id)
    return this
  }
  [Symbol.toPrimitive](): number {
    return this.id
  }
}

export type RunOutcome = 'done' | 'idle' | 'limit'

const real = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  clearImmediate: globalThis.clearImmediate,
  dateNow: Date.now,
}

/** Lets one real turn of the event loop pass (every immediate queued before it runs first). */
const realTurn = () => new Promise<void>((resolve) => real.setImmediate(resolve))

export class VirtualClock {
  now: number
  /** Exceptions thrown by timer callbacks (uncaught exceptions, in a real process). */
  readonly errors: unknown[] = []
  #timers = new Map<number, Entry>()
  #nextId = 1
  #seq = 0
  #immediates = new Set<NodeJS.Immediate>()
  #installed = false

  constructor(start = 1_700_000_000_000) {
    this.now = start
  }

  /** Timers still pending (ref'd or not). */
  get pendingTimers(): number {
    return this.#timers.size
  }

  install(): void {
    if (this.#installed) throw new Error('VirtualClock already installed')
    this.#installed = true
    const g = globalThis as Record<string, unknown>
    g.setTimeout = (fn: Callback, delay?: number, ...args: unknown[]) => this.#add(fn, delay, args, false)
    g.setInterval = (fn: Callback, delay?: number, ...args: unknown[]) => this.#add(fn, delay, args, true)
    g.clearTimeout = g.clearInterval = (handle: unknown) => {
      if (handle === undefined || handle === null) return
      this.clear(Number(handle))
    }
    g.setImmediate = (fn: Callback, ...args: unknown[]) => {
      const handle: NodeJS.Immediate = real.setImmediate(() => {
        this.#immediates.delete(handle)
        fn(...args)
      })
      this.#immediates.add(handle)
      return handle
    }
    g.clearImmediate = (handle: NodeJS.Immediate | undefined) => {
      if (handle && this.#immediates.delete(handle)) real.clearImmediate(handle)
    }
    Date.now = () => this.now
  }

  /** Restores the real functions; pending virtual timers are dropped (they never fire). */
  uninstall(): void {
    if (!this.#installed) return
    this.#installed = false
    Object.assign(globalThis, {
      setTimeout: real.setTimeout,
      clearTimeout: real.clearTimeout,
      setInterval: real.setInterval,
      clearInterval: real.clearInterval,
      setImmediate: real.setImmediate,
      clearImmediate: real.clearImmediate,
    })
    Date.now = real.dateNow
    this.#timers.clear()
  }

  clear(id: number): void {
    this.#timers.delete(id)
  }

  refresh(id: number): void {
    const e = this.#timers.get(id)
    if (!e) return
    e.at = this.now + e.delay
    e.seq = this.#seq++
  }

  /**
   * Runs the code under test: lets every immediate and microtask happen, then moves the clock to
   * the earliest timer and fires it, again and again, until `done()` is true ('done'), nothing
   * is left to fire ('idle'), or the clock has moved `limitMs` ('limit').
   */
  async run(done: () => boolean = () => false, limitMs = 3_600_000): Promise<RunOutcome> {
    const end = this.now + limitMs
    for (;;) {
      await this.drain()
      if (done()) return 'done'
      const next = this.#earliest()
      if (!next) return 'idle'
      if (next.at > end) return 'limit'
      this.#fire(next)
    }
  }

  /** Moves the clock by `ms`, firing the timers due meanwhile (and everything they cause). */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms
    for (;;) {
      await this.drain()
      const next = this.#earliest()
      if (!next || next.at > target) break
      this.#fire(next)
    }
    this.now = target
  }

  /** Lets every pending immediate (and what it causes, without timers) run. */
  async drain(): Promise<void> {
    do await realTurn()
    while (this.#immediates.size)
  }

  #add(fn: Callback, delay: number | undefined, args: unknown[], repeat: boolean): VirtualTimeout {
    // Node: a delay that is not a number ≥ 1 (and ≤ 2^31-1) is 1 ms.
    let ms = Number(delay)
    if (!(ms >= 1 && ms <= 2_147_483_647)) ms = 1
    const id = this.#nextId++
    const handle = new VirtualTimeout(this, id)
    this.#timers.set(id, { id, at: this.now + ms, seq: this.#seq++, delay: ms, repeat, fn, args, handle })
    return handle
  }

  #fire(e: Entry): void {
    this.now = Math.max(this.now, e.at)
    if (e.repeat) {
      e.at = this.now + e.delay
      e.seq = this.#seq++
    } else {
      this.#timers.delete(e.id)
    }
    try {
      e.fn(...e.args)
    } catch (err) {
      // In Node this would be an uncaught exception.
      this.errors.push(err)
    }
  }

  #earliest(): Entry | undefined {
    let best: Entry | undefined
    for (const e of this.#timers.values()) {
      if (!best || e.at < best.at || (e.at === best.at && e.seq < best.seq)) best = e
    }
    return best
  }
}
