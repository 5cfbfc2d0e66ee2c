/**
 * The journal against the worst stop there is: `mpos-bridge serve` in a child process, killed
 * with SIGKILL at random moments while a client runs payments (initialize, process_payment,
 * finish_payment, each with its command_id), then started again on the same data directory —
 * KILLS times. After every restart:
 *   - the bridge starts (the journal opens, the data directory's lock was let go by the kill);
 *   - every command the client sent is `done` with the very answer the client got, or — when the
 *     client got none — `done`, `interrupted`, or `unknown` (killed before it was recorded);
 *     never `running`;
 *   - no command_id was ever answered twice with different answers (replays included);
 * and at the end no card number is found anywhere in the data directory's files.
 *
 * MPOS_CRASH_SEED replays a run (the seed is printed).
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { TEST_CARDS } from '../../src/simulator/cards.js'
import { EK, tempDir } from '../server/helpers.js'

const BIN = fileURLToPath(new URL('../../bin/mpos-bridge.js', import.meta.url))
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))
const KILLS = 20
// 20 restarts take 100–200 s alone and more on a loaded machine: more than the suite's 300 s per file.
t.setTimeout(900_000)
const seed = Number(process.env.MPOS_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
/** A small deterministic generator (mulberry32): the kill moments of a seed. */
function random(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

async function serve(dataDir: string): Promise<{ child: ChildProcess; url: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, '--no-discovery'], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bridge did not start:\n${out}`)), 30_000)
    const look = (s: string) => {
      out += s
      const m = /"url":"(http:\/\/[^"]+)".*mpos-bridge listening|mpos-bridge listening.*"url":"(http:\/\/[^"]+)"/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1] ?? m[2]!)
      }
    }
    child.stdout!.setEncoding('utf8').on('data', look)
    child.stderr!.setEncoding('utf8').on('data', look)
    child.once('exit', (code) => reject(new Error(`the bridge exited (${code}) before it listened:\n${out}`)))
  })
  return { child, url, exited }
}

type Answer = Record<string, unknown>

/** What the client learns: every answer by command_id (a command_id must never get two different ones). */
class Ledger {
  readonly sent = new Map<string, { command: string }>()
  readonly answers = new Map<string, string>()
  readonly conflicts: string[] = []
  record(a: Answer) {
    if (a.event !== undefined || typeof a.command_id !== 'string') return
    const { replayed: _, ...answer } = a
    const text = JSON.stringify(answer)
    const before = this.answers.get(a.command_id)
    if (before !== undefined && before !== text) this.conflicts.push(`${a.command_id}: ${before} then ${text}`)
    this.answers.set(a.command_id, text)
  }
}

/** Runs payments until the socket dies; every request carries a fresh command_id. */
async function shop(url: string, ledger: Ledger, round: number): Promise<void> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, 'mpos-bridge')
  const waiting = new Map<string, (a: Answer) => void>()
  ws.on('message', (data) => {
    const a = JSON.parse(String(data)) as Answer
    ledger.record(a)
    if (typeof a.command_id === 'string') waiting.get(a.command_id)?.(a)
  })
  const dead = new Promise<never>((_, reject) => {
    ws.once('close', () => reject(new Error('closed')))
    ws.once('error', () => reject(new Error('error')))
  })
  dead.catch(() => {})
  let n = 0
  const ask = async (request: Record<string, unknown>): Promise<Answer> => {
    const id = `r${round}-${++n}`
    ledger.sent.set(id, { command: String(request.command) })
    const answered = new Promise<Answer>((resolve) => waiting.set(id, resolve))
    ws.send(JSON.stringify({ context: 'till', ...request, command_id: id }))
    return Promise.race([answered, dead])
  }
  try {
    await Promise.race([new Promise((r) => ws.once('open', r)), dead])
    const init = await ask({ command: 'initialize', encryption_key: EK })
    if (!init.success && init.code !== 'MPOS_ERR_ALREADY_INITIALIZED') return
    for (;;) {
      const paid = await ask({ command: 'process_payment', amount: 1000 + (n % 7), magstripe_payment_method: 'credit_card' })
      if ((paid.response as Answer | undefined)?.status === 'accepted' || (paid as Answer).code === 'MPOS_ERR_COMMAND_OUT_OF_ORDER') {
        await ask({ command: 'finish_payment', success: true, response_code: '0000' })
      }
    }
  } catch {
    // The bridge was killed.
  } finally {
    ws.terminate()
  }
}

async function getResults(url: string, ids: string[]): Promise<Map<string, Answer>> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, 'mpos-bridge')
  await new Promise((r, j) => {
    ws.once('open', r)
    ws.once('error', j)
  })
  const results = new Map<string, Answer>()
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const a = JSON.parse(String(data)) as Answer
      if (a.command !== 'get_result') return
      results.set(String(a.command_id), a)
      if (results.size === ids.length) resolve()
    })
  })
  // get_result is not rate-limited differently: pace the questions under the per-connection rate.
  for (const [i, id] of ids.entries()) {
    ws.send(JSON.stringify({ command: 'get_result', context: 'till', target_command_id: id, command_id: `q-${id}` }))
    if (i % 40 === 39) await new Promise((r) => setTimeout(r, 1000))
  }
  if (ids.length) await done
  ws.terminate()
  return new Map([...results].map(([k, v]) => [k.slice(2), v]))
}

t.test(`SIGKILL at ${KILLS} random moments of payments: the journal always opens and always tells the truth (seed ${seed})`, async (t) => {
  const dataDir = await tempDir(t)
  const rnd = random(seed)
  const ledger = new Ledger()
  const seen = { done: 0, interrupted: 0, unknown: 0, answeredBeforeKill: 0 }
  for (let round = 1; round <= KILLS + 1; round++) {
    const bridge = await serve(dataDir)
    t.teardown(() => void bridge.child.kill('SIGKILL'))
    // Everything sent so far, judged by the journal of a bridge that was just restarted.
    const ids = [...ledger.sent.keys()]
    const results = await getResults(bridge.url, ids)
    for (const id of ids) {
      const r = results.get(id)?.response as { state?: string; answer?: Answer } | undefined
      const state = r?.state ?? 'missing'
      const got = ledger.answers.get(id)
      if (got !== undefined) {
        seen.answeredBeforeKill++
        if (state !== 'done') t.fail(`${id} was answered, but the journal says ${state}`)
        else if (r?.answer) ledger.record(r.answer)
      } else {
        if (state === 'running' || state === 'missing') t.fail(`${id}: ${state} after a restart`)
        if (state === 'done' && r?.answer) ledger.record(r.answer)
      }
      if (state === 'done' || state === 'interrupted' || state === 'unknown') seen[state]++
    }
    if (round > KILLS) {
      bridge.child.kill('SIGTERM')
      await bridge.exited
      break
    }
    const running = shop(bridge.url, ledger, round)
    await new Promise((r) => setTimeout(r, 300 + rnd() * 2500))
    bridge.child.kill('SIGKILL')
    await bridge.exited
    await running
  }
  t.same(ledger.conflicts, [], 'no command_id answered twice with different answers')
  t.ok(ledger.sent.size > KILLS * 2, `${ledger.sent.size} commands sent over ${KILLS} kills`)
  t.ok(seen.answeredBeforeKill > 0, 'answers were checked against the journal')
  t.comment(`checks over all restarts: ${JSON.stringify(seen)}`)

  // No card number anywhere in the data directory (journal, its WAL, tables, keys).
  const pans = TEST_CARDS.map((c) => c.pan)
  const files = (await readdir(dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())
  t.ok(files.some((f) => f.name.startsWith('journal.sqlite')), 'the journal is there')
  for (const f of files) {
    const bytes = await readFile(path.join(f.parentPath ?? (f as unknown as { path: string }).path, f.name))
    const text = bytes.toString('latin1')
    const found = pans.filter((p) => text.includes(p))
    t.same(found, [], `no card number in ${f.name}`)
  }
})
