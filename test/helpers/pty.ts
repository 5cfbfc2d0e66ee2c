/**
 * A connected pair of pseudo-terminals made by socat, for tests that need real tty devices
 * (e.g. the serialport binding on both ends). Bytes written to `a` come out of `b` and back.
 * Killing socat (close()) makes both paths vanish, the way an unplugged USB pinpad does.
 *
 *   const pty = await openPtyPair({ t })
 *   const host = await openSerialPort(pty.a)
 *   const pinpad = await openSerialPort(pty.b)
 *   ...
 *   await pty.close()   // optional when `t` was given
 */
import { spawn, type ChildProcess } from 'node:child_process'

export interface PtyPair {
  /** First pty path, e.g. /dev/pts/3. */
  readonly a: string
  /** Second pty path. */
  readonly b: string
  /** socat's process id. */
  readonly pid: number
  /** Kills socat (SIGTERM, then SIGKILL after 2 s) and resolves once it has exited. Idempotent. */
  close(): Promise<void>
}

export interface PtyPairOptions {
  /** Give up if socat has not reported both ptys within this many ms (default 5000). */
  timeoutMs?: number
  /** A tap test (anything with `teardown`): close() then runs when the test ends. */
  t?: { teardown(fn: () => unknown): void }
}

const live = new Set<ChildProcess>()
let exitHookInstalled = false

/** Never leave a socat behind, even when a test crashes without tearing down. */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL')
  })
}

export async function openPtyPair(options: PtyPairOptions = {}): Promise<PtyPair> {
  const timeoutMs = options.timeoutMs ?? 5000
  installExitHook()
  const child = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  live.add(child)
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else {
      child.once('exit', () => resolve())
      child.once('error', () => resolve()) // spawn failed: there is no process to wait for
    }
  })
  void exited.then(() => live.delete(child))

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const force = setTimeout(() => child.kill('SIGKILL'), 2000)
        await exited
        clearTimeout(force)
      }
      await exited
    })()
    return closing
  }

  let paths: string[]
  try {
    paths = await new Promise<string[]>((resolve, reject) => {
      let stderr = ''
      const timer = setTimeout(
        () => reject(new Error(`socat did not report two ptys within ${timeoutMs} ms; stderr:\n${stderr}`)),
        timeoutMs,
      )
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
  } catch (err) {
    await close()
    throw err
  }
  // Keep draining stderr so socat never blocks on a full pipe.
  child.stderr!.resume()
  options.t?.teardown(close)
  return { a: paths[0]!, b: paths[1]!, pid: child.pid!, close }
}
