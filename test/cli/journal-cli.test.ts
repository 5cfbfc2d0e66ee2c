/**
 * `mpos-bridge journal` as a child process: recent commands and payments awaiting their finish,
 * as JSON lines or a table, filtered by context, time and pending — never a card hash.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Journal } from '../../src/journal/store.js'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { tempDir } from '../server/helpers.js'

const BIN = fileURLToPath(new URL('../../bin/mpos-bridge.js', import.meta.url))
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))
const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'journal', ...args], { env: ENV, encoding: 'utf8' })

t.test('lists the journal while a bridge holds it, without card data', async (t) => {
  const dir = await tempDir(t)
  t.match(run(['--data-dir', dir]), { status: 0, stderr: /No journal in .* yet/ }, 'no journal yet')
  let now = Date.parse('2026-12-04T10:00:00Z')
  const j = Journal.open({ dir, now: () => now })
  t.teardown(() => j.close())
  const hash = '123_SECRETHASHSECRETHASH=='
  j.begin({ context: 'till-1', key: '"p1"', command: 'process_payment', fingerprint: '[]', request: { command: 'process_payment', amount: 1500 } })
  j.complete('till-1', '"p1"', { command: 'process_payment', context: 'till-1', command_id: 'p1', success: true, response: { status: 'accepted', card_hash: hash } }, { awaitingFinish: true })
  now = Date.parse('2026-12-05T10:00:00Z')
  j.begin({ context: 'till-2', key: '7', command: 'initialize', fingerprint: '[]', request: { command: 'initialize', encryption_key: 'ek_test_…1234' } })

  const json = run(['--data-dir', dir, '--json'])
  t.equal(json.status, 0, json.stderr)
  const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l))
  t.match(rows, [
    { context: 'till-2', command_id: 7, command: 'initialize', state: 'running', at: '2026-12-05T10:00:00.000Z' },
    { context: 'till-1', command_id: 'p1', command: 'process_payment', state: 'done', amount: 1500, success: true, status: 'accepted', awaiting_finish: true },
  ])
  t.same(run(['--data-dir', dir, '--json', '--context', 'till-1']).stdout.trim().split('\n').map((l) => JSON.parse(l).command_id), ['p1'])
  t.same(run(['--data-dir', dir, '--json', '--since', '2026-12-05']).stdout.trim().split('\n').map((l) => JSON.parse(l).command_id), [7])
  t.same(run(['--data-dir', dir, '--json', '--pending']).stdout.trim().split('\n').map((l) => JSON.parse(l).command_id), ['p1'])
  const table = run(['--data-dir', dir])
  t.match(table.stdout, /context\s+command_id\s+command/)
  t.match(table.stdout, /1 payment\(s\) await their finish_payment: till-1\/"p1"/)
  for (const r of [json, table]) t.notMatch(r.stdout, /SECRETHASH/, 'no card hash printed')
  t.match(run(['--data-dir', dir, '--since', 'yesterday']), { status: 2, stderr: /not a date/ })
})
