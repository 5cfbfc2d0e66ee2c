/**
 * The stderr output's buffer is written LOG_FLUSH_MS after a line (src/log.ts flushAfterLines), and
 * not at all while nothing is logged: an idle bridge makes no write(2) calls. And for real: a line
 * a running bridge logs reaches stderr while it is still running, not only at its exit.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { flushAfterLines, LOG_CAPTURE_ENV, LOG_FLUSH_MS } from '../../src/log.js'
import { ManualClock } from '../helpers/manual-clock.js'

function fakeDestination() {
  const calls: string[] = []
  return {
    calls,
    dest: {
      write: (line: string) => calls.push(`write ${line}`),
      flush: () => calls.push('flush'),
      flushSync: () => calls.push('flushSync'),
    },
  }
}

t.test('one flush LOG_FLUSH_MS after the first line, none while idle', async (t) => {
  const clock = new ManualClock()
  const { calls, dest } = fakeDestination()
  const out = flushAfterLines(dest, LOG_FLUSH_MS, clock)
  await clock.advance(10 * LOG_FLUSH_MS)
  t.same(calls, [], 'nothing logged: nothing written, nothing flushed')
  out.write('a\n')
  await clock.advance(LOG_FLUSH_MS - 1)
  out.write('b\n')
  t.same(calls, ['write a\n', 'write b\n'], 'buffered until the delay has passed')
  await clock.advance(1)
  t.same(calls, ['write a\n', 'write b\n', 'flush'], 'one flush for both lines, LOG_FLUSH_MS after the first')
  await clock.advance(100 * LOG_FLUSH_MS)
  t.equal(calls.length, 3, 'idle again: no further flush')
  out.write('c\n')
  await clock.advance(LOG_FLUSH_MS)
  t.same(calls.slice(3), ['write c\n', 'flush'], 'the next line arms the next flush')
})

t.test('flushSync writes at once and disarms the pending flush', async (t) => {
  const clock = new ManualClock()
  const { calls, dest } = fakeDestination()
  const out = flushAfterLines(dest, LOG_FLUSH_MS, clock)
  out.write('a\n')
  out.flushSync()
  await clock.advance(10 * LOG_FLUSH_MS)
  t.same(calls, ['write a\n', 'flushSync'])
})

t.test("pino's logger.flush() writes at once and disarms the pending flush", async (t) => {
  const clock = new ManualClock()
  const { calls, dest } = fakeDestination()
  const out = flushAfterLines(dest, LOG_FLUSH_MS, clock)
  out.write('a\n')
  let called = false
  out.flush(() => (called = true))
  await clock.advance(10 * LOG_FLUSH_MS)
  t.same(calls, ['write a\n', 'flush'], 'one flush, not a second one from the timer')
  t.ok(called, 'the callback ran')
})

t.test('a flush that fails (stderr gone) is contained', async (t) => {
  const clock = new ManualClock()
  const out = flushAfterLines({ write: () => {}, flush: () => { throw new Error('EPIPE') }, flushSync: () => {} }, LOG_FLUSH_MS, clock)
  out.write('a\n')
  await clock.advance(LOG_FLUSH_MS)
  out.write('b\n')
  await clock.advance(LOG_FLUSH_MS)
  t.pass('no exception escaped the timer')
})

t.test('a running process logs to stderr within the flush delay, not only at its exit', async (t) => {
  const env = { ...process.env }
  delete env[LOG_CAPTURE_ENV]
  const script = fileURLToPath(new URL('./many-lines.ts', import.meta.url))
  // "stay": logs one line, then keeps running until its stdin closes.
  const child = spawn(process.execPath, ['--import', 'tsx', script, 'stay', '1'], { env, stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  const seen = new Promise<void>((resolve) =>
    child.stderr.on('data', (d) => {
      stderr += String(d)
      if (stderr.includes('"msg":"line"')) resolve()
    }),
  )
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const first = await Promise.race([seen.then(() => 'line'), exited.then(() => 'exit')])
  t.equal(first, 'line', 'the line arrived while the process was still running')
  child.stdin.end()
  t.equal(await exited, 0)
})
