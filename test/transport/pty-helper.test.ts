import t from 'tap'
import { existsSync, statSync } from 'node:fs'
import { openPtyPair } from '../helpers/pty.js'

/** When the pty behind `path` was made (ctime, ns-precise on devpts), or undefined if there is none. */
const madeAt = (path: string): number | undefined => {
  try {
    return statSync(path).ctimeMs
  } catch {
    return undefined
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('openPtyPair gives two existing ptys; close() kills socat and the ptys vanish', async (t) => {
  const pty = await openPtyPair()
  t.match(pty.a, /^\/dev\/pts\/\d+$/)
  t.match(pty.b, /^\/dev\/pts\/\d+$/)
  t.not(pty.a, pty.b)
  t.ok(existsSync(pty.a) && existsSync(pty.b))
  t.ok(alive(pty.pid))
  const made = [madeAt(pty.a), madeAt(pty.b)]
  await pty.close()
  t.notOk(alive(pty.pid), 'socat has exited')
  // Gone — or the number already handed to a new pty (another test file's socat, running alongside).
  t.ok([pty.a, pty.b].every((p, i) => madeAt(p) !== made[i]), 'ptys are gone')
  await pty.close() // idempotent
})

t.test('the pair is closed when the test that asked for it ends', async (t) => {
  let pid = 0
  await t.test('inner', async (t) => {
    pid = (await openPtyPair({ t })).pid
    t.ok(alive(pid))
  })
  t.notOk(alive(pid))
})

t.test('a socat that does not report in time is an error, not a hang', async (t) => {
  await t.rejects(openPtyPair({ timeoutMs: 1 }), /did not report two ptys within 1 ms/)
})
