/**
 * A connected pair of pseudo-terminals made by socat, for the pty row of bench/run.ts: bytes
 * written to `a` come out of `b` and back. (The tests have their own in test/helpers/pty.ts;
 * bench code does not import from test/.)
 */
import { spawn } from 'node:child_process'

export interface PtyPair {
  readonly a: string
  readonly b: string
  /** Kills socat (SIGTERM, then SIGKILL after 2 s) and resolves once it has exited. Idempotent. */
  close(): Promise<void>
  /**
   * With `countBytes`: what socat carried between two moments (epoch ms, as Date.now()), in order,
   * read off the timestamps of its `-v` report: direction, when, how many bytes.
   */
  transfersBetween(from: number, to: number): Transfer[]
}

export interface Transfer {
  /** From `a` to `b` (else from `b` to `a`). */
  aToB: boolean
  /** Epoch ms (socat's clock: the moment it carried them). */
  at: number
  length: number
  /** The first bytes as socat -v shows them (non-printable as "."): ".GCX" for an ABECS command frame. */
  head: string
}

/** One transfer as `socat -v` reports it: "> 2026/12/06 03:47:55.000925342  length=5 from=0 to=4". */
const TRANSFER = /([<>]) (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)\.(\d+)\s+length=(\d+) from=\d+ to=\d+/g

/** socat prints local time, its fraction the microseconds zero-padded to nine digits (or nanoseconds). */
function transferAt(m: RegExpMatchArray): number {
  const [y, mo, d, h, mi, sec, frac] = m.slice(2, 9).map(Number) as [number, number, number, number, number, number, number]
  return new Date(y, mo - 1, d, h, mi, sec).getTime() + (frac < 1e6 ? frac / 1000 : frac / 1e6)
}

/** `countBytes`: socat -v reports each transfer (direction, time, length) on stderr, kept here. */
export async function openPtyPair(timeoutMs = 5000, options: { countBytes?: boolean } = {}): Promise<PtyPair> {
  const child = spawn('socat', ['-d', '-d', ...(options.countBytes ? ['-v'] : []), 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] })
  const transfers: Transfer[] = []
  let pending = ''
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve()) // spawn failed: there is no process to wait for
  })
  // Never leave a socat behind, even when the bench crashes.
  const kill = () => child.kill('SIGKILL')
  process.once('exit', kill)
  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const force = setTimeout(() => child.kill('SIGKILL'), 2000)
        await exited
        clearTimeout(force)
      }
      process.off('exit', kill)
    })())
  try {
    const paths = await new Promise<string[]>((resolve, reject) => {
      let stderr = ''
      const timer = setTimeout(() => reject(new Error(`socat did not report two ptys within ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs)
      child.once('error', (err) => {
        clearTimeout(timer)
        reject(new Error(`cannot start socat: ${err.message}`))
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`socat exited early (${signal ?? code}); stderr:\n${stderr}`))
      })
      child.stderr!.setEncoding('utf8')
      const onStderr = (text: string): void => {
        stderr += text
        const found = [...stderr.matchAll(/PTY is (\/\S+)/g)].map((m) => m[1]!)
        // Both ends exist once socat enters its transfer loop.
        if (found.length >= 2 && stderr.includes('starting data transfer loop')) {
          clearTimeout(timer)
          child.stderr!.off('data', onStderr)
          resolve(found.slice(0, 2))
        }
      }
      child.stderr!.on('data', onStderr)
    })
    // Keep draining stderr so socat never blocks on a full pipe (and count what -v reports).
    if (options.countBytes) child.stderr!.on('data', (text: string) => {
      // A report line may be split between two chunks: what follows the last whole one waits for the next.
      pending += text
      let end = -1
      for (const m of pending.matchAll(TRANSFER)) {
        // The data follows its report line; a report whose first bytes are not here yet waits for them.
        const data = m.index! + m[0].length + 1
        const length = Number(m[9])
        const head = pending.slice(data, data + Math.min(4, length))
        if (head.length < Math.min(4, length)) break
        transfers.push({ aToB: m[1] === '>', at: transferAt(m), length, head })
        end = data + head.length
      }
      pending = end >= 0 ? pending.slice(end) : pending.slice(-400)
    })
    child.stderr!.resume()
    return {
      a: paths[0]!,
      b: paths[1]!,
      close,
      transfersBetween: (from, to) => transfers.filter((x) => x.at >= from && x.at <= to),
    }
  } catch (err) {
    await close()
    throw err
  }
}
