import t from 'tap'
import { existsSync } from 'node:fs'
import { openPtyPair } from '../helpers/pty.js'

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
  await pty.close()
  t.notOk(alive(pty.pid), 'socat has exited')
  t.notOk(existsSync(pty.a) || existsSync(pty.b), 'ptys are gone')
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
