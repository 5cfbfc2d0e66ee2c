/**
 * The pinpad's own timeouts (§3.7.1 SPE_TIMEOUT, §6.5.11 and §6.9.3: 1 minute without a key on a
 * PIN screen, 2 minutes waiting for a contactless card): a wait for the cardholder, bounded.
 */
import type { Clock } from '../clock.js'

/** Runs `wait` (stopped by the signal it is given) for at most `ms` of `clock`: 'timeout' when the time ran out first. */
export async function within<T>(
  clock: Clock,
  ms: number | undefined,
  signal: AbortSignal,
  wait: (signal: AbortSignal) => Promise<T | 'aborted'>,
): Promise<T | 'aborted' | 'timeout'> {
  if (ms === undefined) return wait(signal)
  const stop = new AbortController()
  const onAbort = () => stop.abort()
  signal.addEventListener('abort', onAbort, { once: true })
  let timedOut = false
  const timer = clock.setTimeout(() => {
    timedOut = true
    stop.abort()
  }, Math.max(0, ms))
  try {
    const result = await wait(stop.signal)
    return result === 'aborted' && timedOut && !signal.aborted ? 'timeout' : result
  } finally {
    clock.clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
  }
}
