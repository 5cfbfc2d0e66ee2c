/**
 * `npm run bench:journal`: what the payment journal costs per money command, beside what a payment
 * costs in total, in one run (no assertions).
 *
 *   (a) the store alone: begin + complete of one command on a real file (WAL, synchronous=NORMAL)
 *   (b) the same through the /ws gate: a journaled process_payment + finish_payment (command_id)
 *       against the same pair without command_id (not journaled), virtual pinpad delays 0
 *   (c) a replay: the same process_payment command_id again (answered from the journal)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Journal } from '../src/journal/store.js'
import { fmt, millis, now, percentile, startBenchBridge, wsClient } from './lib.js'

const N = Number(process.env.BENCH_JOURNAL_N ?? 2000)
const PAYMENTS = Number(process.env.BENCH_JOURNAL_PAYMENTS ?? 300)

const line = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(44) : c.padStart(12))).join(''))
const pct = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return [percentile(s, 50), percentile(s, 99)] as const
}

// (a) the store alone
const dir = mkdtempSync(path.join(tmpdir(), 'mpos-bench-journal-'))
const journal = Journal.open({ dir })
const store: number[] = []
const answer = { command: 'process_payment', context: 'till', success: true, response: { status: 'accepted', card_hash: `123_${'A'.repeat(344)}`, payment_method: 'credit_card' } }
for (let i = 0; i < N; i++) {
  const t0 = now()
  journal.begin({ context: 'till', key: JSON.stringify(`b${i}`), command: 'process_payment', fingerprint: `["process_payment",${i},null,null]`, request: { command: 'process_payment', amount: i } })
  journal.complete('till', JSON.stringify(`b${i}`), { ...answer, command_id: `b${i}` }, { awaitingFinish: true })
  store.push(millis(now() - t0))
}
journal.close()
rmSync(dir, { recursive: true, force: true })

// (b), (c) through the bridge, interleaved rounds: journaled and not
const bridge = await startBenchBridge({ simulator: { cardholder: { presentAfterMs: 0, pinAfterMs: 0, removeAfterMs: 0 }, timings: {} } })
const client = await wsClient(bridge.url)
const init = await client.call({ command: 'initialize', encryption_key: 'ek_test_benchbenchbenchbench1234' })
if (!init.success) throw new Error(`initialize failed: ${init.error}`)
const journaled: number[] = []
const plain: number[] = []
const replays: number[] = []
for (let i = 0; i < PAYMENTS; i++) {
  for (const withId of i % 2 ? [true, false] : [false, true]) {
    const t0 = now()
    const paid = await client.call({ command: 'process_payment', amount: 1000 }, 30_000, withId ? `p${i}` : null)
    if (paid.response?.status !== 'accepted') throw new Error(`payment: ${JSON.stringify(paid).slice(0, 200)}`)
    const fin = await client.call({ command: 'finish_payment', success: true, response_code: '0000' }, 30_000, withId ? `f${i}` : null)
    if (!fin.success) throw new Error(`finish_payment: ${fin.error}`)
    ;(withId ? journaled : plain).push(millis(now() - t0))
    if (withId) {
      const r0 = now()
      const again = await client.call({ command: 'process_payment', amount: 1000 }, 30_000, `p${i}`)
      if (again.replayed !== true) throw new Error('not replayed')
      replays.push(millis(now() - r0))
    }
  }
}
await client.close()
await bridge.close()

const [s50, s99] = pct(store)
const [j50, j99] = pct(journaled)
const [p50, p99] = pct(plain)
const [r50, r99] = pct(replays)
console.log(`payment journal — ${N} store operations, ${PAYMENTS} payments of each kind (interleaved)`)
line(['', 'p50 ms', 'p99 ms'])
line(['(a) store: begin + complete of one command', fmt(s50, 3), fmt(s99, 3)])
line(['(b) payment + finish, journaled (command_id)', fmt(j50, 2), fmt(j99, 2)])
line(['    payment + finish, not journaled', fmt(p50, 2), fmt(p99, 2)])
line(['    journal share of a payment (p50)', `${fmt(((j50 - p50) / p50) * 100, 1)} %`, ''])
line(['(c) replay of a done process_payment', fmt(r50, 3), fmt(r99, 3)])
console.log(`ratio journaled / not journaled (p50): ${fmt(j50 / p50, 3)}; store cost / payment (p50): ${fmt((2 * s50) / j50 * 100, 2)} %`)
