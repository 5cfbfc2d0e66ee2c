/**
 * The payment journal through a real WebSocket: replays never touch the pinpad, a retry is judged
 * before the context's order rules, get_result in every state, a restart on the same data
 * directory (interrupted commands, payments awaiting their finish), one bridge per directory,
 * card hashes removed from replays 24 h after the finish.
 */
import t from 'tap'
import { Journal } from '../../src/journal/store.js'
import { Client, EK, httpGet, recordLink, startBridge, tempDir, until } from './helpers.js'
import { MAX_CONTEXTS_PER_CONNECTION } from '../../machines/bridge.machine.js'

const cardReads = (link: ReturnType<typeof recordLink>) => link.filter((e) => e.type === 'command' && (e.id === 'GCR' || e.id === 'GCX')).length

async function acceptedPayment(ws: Client, id: string, context = 'default') {
  const answer = await ws.request({ command: 'process_payment', context, amount: 1000, magstripe_payment_method: 'credit_card', command_id: id })
  if (answer.response?.status !== 'accepted') throw new Error(`payment not accepted: ${JSON.stringify(answer)}`)
  return answer
}

t.test('a retry of a done command gets its answer again, before any order rule, without the pinpad', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  const init = await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'init-1' })
  t.match(init, { success: true })
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'init-2' }), { success: false, code: 'MPOS_ERR_ALREADY_INITIALIZED' }, 'a new initialize is out of order')
  t.same(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'init-1' }), { ...init, replayed: true }, 'the retry of the first is its answer again')

  const link = recordLink(rig.pinpads[0]!)
  const paid = await acceptedPayment(ws, 'pay-1')
  t.equal(cardReads(link), 1)
  const frames = link.length
  const again = await ws.request({ command: 'process_payment', amount: 1000, magstripe_payment_method: 'credit_card', command_id: 'pay-1' })
  t.same(again, { ...paid, replayed: true }, 'the same card hash, marked replayed')
  t.equal(link.length, frames, 'not one byte to the pinpad')
  const other = await Client.open(t, rig.wsUrl)
  t.same(await other.request({ command: 'process_payment', amount: 1000, magstripe_payment_method: 'credit_card', command_id: 'pay-1' }), { ...paid, replayed: true }, 'from another connection too')

  for (const changed of [{ amount: 1001 }, { magstripe_payment_method: 'debit_card' }, { applications: [{ brand: 'visa', payment_method: 'credit_card' }] }]) {
    t.match(
      await ws.request({ command: 'process_payment', amount: 1000, magstripe_payment_method: 'credit_card', ...changed, command_id: 'pay-1' }),
      { success: false, code: 'MPOS_ERR_COMMAND_ID_REUSED', command_id: 'pay-1', error: /command_id "pay-1" was already used in context "default" for another request \(process_payment of 1000\)/ },
      `other money fields: ${JSON.stringify(changed)}`,
    )
  }
  t.match(await ws.request({ command: 'cancel', command_id: 'pay-1' }), { success: false, code: 'MPOS_ERR_COMMAND_ID_REUSED' }, 'another command')
  t.match(await ws.request({ command: 'process_payment', context: 'elsewhere', amount: 5, command_id: 'pay-1' }), { command_id: 'pay-1', context: 'elsewhere' }, 'a command_id belongs to its context')
  t.equal(cardReads(link), 1, 'still one card read')

  const finish = await ws.request({ command: 'finish_payment', success: true, response_code: '0000', command_id: 'fin-1' })
  t.match(finish, { success: true })
  t.same(await ws.request({ command: 'finish_payment', success: true, response_code: '0000', command_id: 'fin-1' }), { ...finish, replayed: true }, 'finish_payment replays: it is out of order now')
  t.match(await ws.request({ command: 'finish_payment', success: false, command_id: 'fin-1' }), { code: 'MPOS_ERR_COMMAND_ID_REUSED' })
  // Commands that are not journaled run each time.
  t.notOk('replayed' in (await ws.request({ command: 'status', command_id: 'st' })))
  t.notOk('replayed' in (await ws.request({ command: 'status', command_id: 'st' })))
  // A numeric command_id is another id than the same digits as text.
  t.match(await ws.request({ command: 'close', command_id: 7 }), { success: true, command_id: 7 })
  t.match(await ws.request({ command: 'close', command_id: 7 }), { success: true, command_id: 7, replayed: true })
  t.match(await ws.request({ command: 'close', command_id: '7' }), { success: true, command_id: '7' })
})

t.test('get_result: unknown, running, done — from any connection', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  t.match(await ws.request({ command: 'get_result', target_command_id: 'never' }), { command: 'get_result', success: true, response: { target_command_id: 'never', state: 'unknown' } })
  t.match(await ws.request({ command: 'get_result' }), { success: false, code: 'MPOS_ERR_INVALID_FIELD' }, 'target_command_id is required')
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  rig.pinpads[0]!.cardholder.options.autoCard = null
  ws.sendRaw(JSON.stringify({ command: 'process_payment', context: 'default', amount: 1000, command_id: 'pay-r' }))
  const watcher = await Client.open(t, rig.wsUrl)
  const running = await watcher.request({ command: 'get_result', target_command_id: 'pay-r' })
  t.match(running, { success: true, response: { state: 'running', command: 'process_payment' } })
  t.notOk('answer' in running.response)
  rig.pinpads[0]!.cardholder.present('visa-credit')
  const answer = await ws.reply('process_payment', 0, 'pay-r')
  t.match(await watcher.request({ command: 'get_result', target_command_id: 'pay-r' }), { response: { state: 'done', answer: { ...answer, replayed: true } } })
  t.match(await watcher.request({ command: 'get_result', context: 'other', target_command_id: 'pay-r' }), { response: { state: 'unknown' } }, 'per context')
})

t.test('a command refused before any context saw it is recorded: another connection learns it after the first closed', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  // The connection's own limit of live contexts: the next new name is refused by the bridge itself.
  for (let i = 0; i < MAX_CONTEXTS_PER_CONNECTION; i++) t.match(await ws.request({ command: 'status', context: `till-${i}` }), { success: true })
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1, context: 'one-too-many', command_id: 'seen' }), { success: false, code: 'MPOS_ERR_TOO_MANY_CONTEXTS' })
  // The same, and the socket closed in the same turn: the refusal has nobody to reach.
  ws.sendRaw(JSON.stringify({ command: 'initialize', encryption_key: EK, device_id: 1, context: 'one-too-many', command_id: 'gone' }))
  ws.ws.close()
  await until(() => rig.server.runtime.sessionCount === 0, 'the connection to be gone')
  const other = await Client.open(t, rig.wsUrl)
  t.match(await other.request({ command: 'get_result', context: 'one-too-many', target_command_id: 'gone' }), {
    success: true,
    response: { state: 'done', command: 'initialize', answer: { success: false, code: 'MPOS_ERR_TOO_MANY_CONTEXTS', command_id: 'gone', replayed: true } },
  })
})

t.test('a restart: running commands are interrupted, a payment awaiting its finish is listed and still answers', async (t) => {
  const dataDir = await tempDir(t)
  // The first bridge: a payment accepted, never finished; a command still running when it stops.
  const first = await startBridge(t, { dataDir })
  const ws = await Client.open(t, first.wsUrl)
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'i1' }), { success: true })
  const paid = await acceptedPayment(ws, 'p1')
  // Listed live (kept in memory as the payment is answered) exactly as the next run reads it back from the journal.
  const live = (await ws.request({ command: 'status' })).response.awaiting_finish
  t.match(live, [{ context: 'default', command_id: 'p1', amount: 1000 }], 'listed as soon as it is answered')
  await first.server.close()
  // A command that was running when the process died (what SIGKILL leaves; see crash.test.ts).
  const j = Journal.open({ dir: dataDir })
  j.begin({ context: 'default', key: '"p2"', command: 'process_payment', fingerprint: JSON.stringify(['process_payment', 2000, null, null]), request: { command: 'process_payment', amount: 2000 } })
  j.close()

  const second = await startBridge(t, { dataDir })
  const link = recordLink(second.pinpads[0]!)
  const page = await Client.open(t, second.wsUrl)
  const status = await page.request({ command: 'status' })
  t.match(status.response, { status: 'idle', awaiting_finish: [{ context: 'default', command_id: 'p1', amount: 1000 }] }, 'status names the payment awaiting its finish')
  t.same(status.response.awaiting_finish, live, 'the same list, the same time')
  t.match(JSON.parse((await httpGet(`${second.httpUrl}/status`)).body), { awaiting_finish: [{ context: 'default', command_id: 'p1' }] }, 'so does /status')
  t.match(await page.request({ command: 'get_result', target_command_id: 'p1' }), { response: { state: 'done', answer: { ...paid, replayed: true } } })
  t.same(await page.request({ command: 'process_payment', amount: 1000, magstripe_payment_method: 'credit_card', command_id: 'p1' }), { ...paid, replayed: true }, 'the retry after the restart gets the same card hash')
  t.match(await page.request({ command: 'get_result', target_command_id: 'p2' }), { response: { state: 'interrupted', command: 'process_payment' } })
  t.match(
    await page.request({ command: 'process_payment', amount: 2000, command_id: 'p2' }),
    { success: false, code: 'MPOS_ERR_COMMAND_INTERRUPTED', error: /process_payment "p2" was interrupted/ },
    'an interrupted payment is never run again under its command_id',
  )
  t.same(link, [], 'the pinpad was not touched')
  // The shop dealt with it (reversed it with the acquirer): close acknowledges.
  t.match(await page.request({ command: 'close' }), { success: true })
  t.notOk('awaiting_finish' in (await page.request({ command: 'status' })).response)
  t.same(JSON.parse((await httpGet(`${second.httpUrl}/status`)).body).awaiting_finish, [])
  // initialize is about the live pinpad, which the restart ended: its command_id runs it again.
  const again = await page.request({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'i1' })
  t.match(again, { success: true, command_id: 'i1' })
  t.notOk('replayed' in again, 'not replayed from the earlier run')
  t.ok(link.some((e) => e.type === 'command' && e.id === 'OPN'), 'the pinpad was opened')
  t.match(await page.request({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'i1' }), { success: true, replayed: true }, 'within this run it replays')
})

t.test('a second bridge on the same data directory is refused with a clear error', async (t) => {
  const dataDir = await tempDir(t)
  await startBridge(t, { dataDir })
  await t.rejects(startBridge(t, { dataDir }), { code: 'MPOS_ERR_DATA_DIR_LOCKED', message: /Another mpos-bridge is running on the data directory/ })
})

t.test('24 h after its finish, a replayed payment has card_hash null and "redacted": true', async (t) => {
  let now = Date.now()
  const rig = await startBridge(t, { now: () => now })
  const ws = await Client.open(t, rig.wsUrl)
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const paid = await acceptedPayment(ws, 'p1')
  t.match(await ws.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
  now += 23 * 3600_000
  rig.server.journal.prune()
  t.match(await ws.request({ command: 'process_payment', amount: 1000, magstripe_payment_method: 'credit_card', command_id: 'p1' }), { replayed: true, response: { card_hash: paid.response.card_hash } })
  now += 2 * 3600_000
  rig.server.journal.prune()
  const late = await ws.request({ command: 'process_payment', amount: 1000, magstripe_payment_method: 'credit_card', command_id: 'p1' })
  t.match(late, { success: true, replayed: true, redacted: true, response: { status: 'accepted', card_hash: null } })
  t.notOk('card_holder_name' in late.response)
})
