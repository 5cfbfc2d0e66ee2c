/** Waiting for the cardholder with an inactivity limit (SPE_TIMEOUT, CHP's 1-minute PIN screen). */
import type { VirtualPinpad } from '../virtual-pinpad.js'
import type { Clock, Timer } from '../../clock.js'

/** SPE_TIMEOUT: absent (or 0 before 2.20) waits forever; 2.20 makes 0 "return at once" (§3.1.3). */
export function inactivityMs(pad: VirtualPinpad, timeout: number | undefined): number | undefined {
  if (timeout === undefined) return undefined
  if (timeout === 0) return pad.identity.specVersion === '2.20' ? 0 : undefined
  return timeout * 1000
}

/** Races `wait` against the inactivity timer (on `clock`, the pinpad's); 'timeout' when it fires first. */
export async function withTimeout<T>(
  clock: Clock,
  signal: AbortSignal,
  ms: number | undefined,
  wait: (s: AbortSignal) => Promise<T | 'aborted'>,
): Promise<T | 'aborted' | 'timeout'> {
  if (ms === undefined) return wait(signal)
  const local = new AbortController()
  const stop = () => local.abort()
  signal.addEventListener('abort', stop, { once: true })
  let timer: Timer | undefined
  const expired = new Promise<'timeout'>((resolve) => (timer = clock.setTimeout(() => resolve('timeout'), ms)))
  try {
    const result = await Promise.race([wait(local.signal), expired])
    if (result === 'timeout') local.abort()
    return signal.aborted ? 'aborted' : result
  } finally {
    clock.clearTimeout(timer)
    signal.removeEventListener('abort', stop)
  }
}
