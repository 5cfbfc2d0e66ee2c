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
  /** With `countBytes`: the bytes socat has carried, both ways, since the last reset. */
  bytes(): number
  resetBytes(): void
}

/** `countBytes`: socat -v reports each transfer's length on stderr, summed here (the wire's bytes). */
export async function openPtyPair(timeoutMs = 5000, options: { countBytes?: boolean } = {}): Promise<PtyPair> {
  const child = spawn('socat', ['-d', '-d', ...(options.countBytes ? ['-v'] : []), 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let carried = 0
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
      for (const m of text.matchAll(/length=(\d+)/g)) carried += Number(m[1])
    })
    child.stderr!.resume()
    return {
      a: paths[0]!,
      b: paths[1]!,
      close,
      bytes: () => carried,
      resetBytes: () => {
        carried = 0
      },
    }
  } catch (err) {
    await close()
    throw err
  }
}
