/**
 * Time as the code sees it. Everything that waits — the link's ACK/EOT timers and response
 * deadlines (§2.2.2), the frame decoder's inter-byte timeout, the virtual pinpad's silences and
 * its cardholder's scripted delays, the acquirer client's timeouts and retry delays, discovery's
 * polling — takes a `Clock` (an optional `clock` option, `systemClock` by default), so a test can
 * hand it a clock it moves by hand: a 2 s ACK wait then costs no real time and happens at the
 * same point on every machine, however busy.
 *
 * The shape is XState v5's `Clock` (`createActor(machine, { clock })` takes it as it is, so the
 * same clock can drive the machines' `after` delays) plus what the I/O code needs besides.
 */
import type { ActorOptions, AnyActorLogic } from 'xstate'

/** XState's clock (not exported by name): what createActor's `clock` option takes. */
type XStateClock = NonNullable<ActorOptions<AnyActorLogic>['clock']>

/** What setTimeout/setInterval hand back: the parts of Node's `Timeout` the code uses. */
export interface Timer {
  ref(): Timer
  /** The timer alone does not keep the process alive. */
  unref(): Timer
  hasRef(): boolean
  /** Starts the same delay again from now (cheaper than clear + set). */
  refresh(): Timer
  [Symbol.toPrimitive](): number
}

export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number
  setTimeout(fn: () => void, ms: number): Timer
  clearTimeout(timer: Timer | undefined): void
  setInterval(fn: () => void, ms: number): Timer
  clearInterval(timer: Timer | undefined): void
  /**
   * Runs `fn` once the I/O callbacks already due have run (Node's setImmediate): how the in-memory
   * stream pair delivers bytes, "asynchronously like a real port". It belongs to the clock so that
   * a manual one knows when everything but its timers has happened, and only then moves time on.
   */
  setImmediate(fn: () => void): void
}

/**
 * The real clock. Each call looks the global function up when it is made (not once at load), so
 * code that replaces the globals — test/helpers/virtual-clock.ts in the fuzz tests — still governs it.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout | undefined),
  setImmediate: (fn) => {
    setImmediate(fn)
  },
}

/** Resolves after `ms` on `clock`; at once (false) when `signal` aborts first, the timer then cleared. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false)
    const done = (elapsed: boolean) => {
      clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve(elapsed)
    }
    const onAbort = () => done(false)
    const timer = clock.setTimeout(() => done(true), ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

// A Clock is an XState clock: createActor(machine, { clock }) accepts it (checked by the compiler).
const _asXState: XStateClock = systemClock
void _asXState
