/**
 * Pairing over a real WebSocket (README "Pairing"): with --require-pairing an unpaired page may
 * list and ask the status but not initialize or pay; the right code gives a token bound to the
 * connection's Origin that works on a new connection from that Origin only; wrong codes lock
 * pairing after 5; codes expire after 2 minutes (on the bridge's clock) and pair one page once;
 * revoking takes effect on open connections; unpaired connections are told nothing of others'
 * payments. Without --require-pairing nothing changes.
 */
import t from 'tap'
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { Client, EK, memoryLogger, startBridge, type Rig } from './helpers.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { CODE_TTL_MS, PAIR_WINDOW_MS } from '../../src/server/pairing/pairing.js'
import { JOURNAL_FILE } from '../../src/journal/store.js'
import { MAX_CONTEXTS_PER_CONNECTION } from '../../machines/bridge.machine.js'
import path from 'node:path'

const POS = 'http://localhost:5173'
const OTHER = 'http://127.0.0.1:5173'
const page = (t: Parameters<typeof Client.open>[0], rig: Rig, origin: string | undefined = POS) =>
  Client.open(t, rig.wsUrl, { protocol: 'mpos-bridge', ...(origin ? { headers: { Origin: origin } } : {}), ...(rig.clock ? { clock: rig.clock } : {}) })
/** A code the shop got from `mpos-bridge pair` (the admin route is tested in pairing-admin.test.ts). */
const newCode = (rig: Rig) => rig.server.pairing.issueCode().code
const wrongOf = (code: string, n = 1) => String((Number(code) + n) % 1_000_000).padStart(6, '0')

t.test('an unpaired page may list and ask the status, nothing else; the right code pairs it', async (t) => {
  const rig = await startBridge(t, { requirePairing: true })
  const ws = await page(t, rig)
  t.match(await ws.request({ command: 'list_devices' }), { success: true, response: [{ id: 1 }, { id: 2 }] })
  t.match(await ws.request({ command: 'status' }), { success: true, response: { status: 'idle' } })
  for (const request of [
    { command: 'initialize', encryption_key: EK, device_id: 1 },
    { command: 'process_payment', amount: 1000 },
    { command: 'finish_payment', success: true },
    { command: 'display_message', message: 'hello' },
    { command: 'get_result', target_command_id: 'x' },
    { command: 'close' },
    { command: 'cancel' },
  ]) {
    t.match(
      await ws.request({ ...request, context: 'till-1' }),
      { command: request.command, context: 'till-1', success: false, code: 'MPOS_ERR_NOT_PAIRED', error: /not paired.*only list_devices, status, pair and authenticate/ },
      `${request.command}: refused`,
    )
  }
  t.equal(rig.pinpads[0]!.display.screen.lines.join('').trim(), '', 'the pinpad was never opened')

  const code = newCode(rig)
  const paired = await ws.request({ command: 'pair', code })
  t.match(paired, { command: 'pair', success: true, response: { origin: POS, token: /^[A-Za-z0-9_-]{43,}$/ } })
  t.ok(Buffer.from(paired.response.token.replace(/^mpb_/, ''), 'base64url').length >= 16, 'at least 128 random bits')
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1, context: 'till-1' }), { success: true }, 'the paired connection may initialize')
  const paid = await ws.request({ command: 'process_payment', amount: 1000, context: 'till-1' })
  t.match(paid, { success: true, response: { status: 'accepted' } }, 'and pay')

  // A new connection (the page reloaded) authenticates with its token.
  const again = await page(t, rig)
  t.match(await again.request({ command: 'finish_payment', success: true, response_code: '0000', context: 'till-1' }), { code: 'MPOS_ERR_NOT_PAIRED' }, 'not before it authenticates')
  t.same((await again.request({ command: 'authenticate', token: paired.response.token, command_id: 'a1' })), { command: 'authenticate', context: 'default', command_id: 'a1', success: true, response: { origin: POS } })
  t.match(await again.request({ command: 'finish_payment', success: true, response_code: '0000', context: 'till-1' }), { success: true })

  // The token is bound to the Origin it was issued to.
  const other = await page(t, rig, OTHER)
  t.match(await other.request({ command: 'authenticate', token: paired.response.token }), { success: false, code: 'MPOS_ERR_PAIRING_WRONG_ORIGIN', error: `This pairing token was issued to ${POS}, not to ${OTHER}` })
  const native = await page(t, rig, null as unknown as undefined)
  t.match(await native.request({ command: 'authenticate', token: paired.response.token }), { success: false, code: 'MPOS_ERR_PAIRING_WRONG_ORIGIN' }, 'nor from a client without Origin')
  t.match(await other.request({ command: 'initialize', encryption_key: EK, device_id: 2 }), { code: 'MPOS_ERR_NOT_PAIRED' })
  t.match(await other.request({ command: 'authenticate', token: `mpb_${'A'.repeat(43)}` }), { success: false, code: 'MPOS_ERR_PAIRING_TOKEN_UNKNOWN' })
  t.match(await other.request({ command: 'authenticate', token: 'not a token!' }), { success: false, code: 'MPOS_ERR_INVALID_FIELD' })
  t.match(await other.request({ command: 'pair', code: '12345' }), { success: false, code: 'MPOS_ERR_INVALID_FIELD' }, 'a code is 6 digits')

  // The token is kept hashed, never in clear.
  const db = new Database(path.join(rig.dataDir, JOURNAL_FILE), { readonly: true })
  t.teardown(() => db.close())
  const rows = db.prepare('SELECT * FROM pairings').all() as Array<Record<string, unknown>>
  t.match(rows, [{ id: 1, origin: POS, token_sha256: createHash('sha256').update(paired.response.token).digest('hex'), revoked_at: null }])
  t.notMatch(JSON.stringify(rows), paired.response.token.slice(4))
})

t.test("an unpaired page's status creates no context: it cannot use up the bridge's contexts", async (t) => {
  const rig = await startBridge(t, { requirePairing: true })
  const hostile = await page(t, rig, OTHER)
  for (let i = 0; i < 3 * MAX_CONTEXTS_PER_CONNECTION; i++) {
    const answer = await hostile.request({ command: 'status', context: `junk-${i}` })
    t.match(answer, { command: 'status', context: `junk-${i}`, success: true }, `junk-${i}: answered`)
    t.same(answer.response, { status: 'idle', connected_device_id: null, devices_available: 2, available_devices: 2 }, 'as a new context would be')
  }
  t.same(rig.server.runtime.contexts(), [], 'no context was created')

  // A paired page's status creates its context, as before; then the unpaired page sees it as it is.
  const pos = await page(t, rig)
  t.match(await pos.request({ command: 'pair', code: newCode(rig) }), { success: true })
  t.match(await pos.request({ command: 'initialize', encryption_key: EK, device_id: 1, context: 'till-1' }), { success: true })
  t.same(rig.server.runtime.contexts().map((c) => c.name), ['till-1'])
  t.match(await hostile.request({ command: 'status', context: 'till-1' }), { success: true, response: { status: 'initialized', connected_device_id: 1 } }, 'a live context answers with its own status')
  t.same(rig.server.runtime.contexts().map((c) => c.name), ['till-1'])
})

t.test('a client without Origin (a native POS) pairs bound to the origin "null"', async (t) => {
  const rig = await startBridge(t, { requirePairing: true })
  const native = await page(t, rig, null as unknown as undefined)
  const paired = await native.request({ command: 'pair', code: newCode(rig) })
  t.match(paired, { success: true, response: { origin: 'null' } })
  const later = await page(t, rig, null as unknown as undefined)
  t.match(await later.request({ command: 'authenticate', token: paired.response.token }), { success: true, response: { origin: 'null' } })
  const browser = await page(t, rig, POS)
  t.match(await browser.request({ command: 'authenticate', token: paired.response.token }), { code: 'MPOS_ERR_PAIRING_WRONG_ORIGIN' }, 'a browser page cannot use it')
})

t.test('wrong codes: 5 lock pairing, counted across connections and origins, until a new code', async (t) => {
  const rig = await startBridge(t, { requirePairing: true })
  const a = await page(t, rig)
  const b = await page(t, rig, OTHER)
  const code = newCode(rig)
  for (let i = 1; i <= 4; i++) {
    t.match(await (i % 2 ? a : b).request({ command: 'pair', code: wrongOf(code, i) }), { success: false, code: 'MPOS_ERR_PAIRING_CODE_WRONG', error: `Wrong pairing code (${5 - i} tries left)` })
  }
  t.match(await b.request({ command: 'pair', code: wrongOf(code, 5) }), { success: false, code: 'MPOS_ERR_PAIRING_LOCKED' }, 'the 5th wrong one locks')
  t.match(await a.request({ command: 'pair', code }), { success: false, code: 'MPOS_ERR_PAIRING_LOCKED' }, 'the right code is void now')
  const fresh = newCode(rig)
  t.match(await a.request({ command: 'pair', code: fresh }), { success: true }, 'a new code from the shop works')
})

t.test('a code pairs one page, once', async (t) => {
  const rig = await startBridge(t, { requirePairing: true })
  const code = newCode(rig)
  const first = await page(t, rig)
  t.match(await first.request({ command: 'pair', code }), { success: true })
  const second = await page(t, rig)
  t.match(await second.request({ command: 'pair', code }), { success: false, code: 'MPOS_ERR_PAIRING_CODE_EXPIRED', error: /already used/ })
  t.match(await second.request({ command: 'pair', code: '000000' }), { success: false, code: 'MPOS_ERR_PAIRING_CODE_EXPIRED' }, 'no code is valid now')
  const replaced = newCode(rig)
  const newer = newCode(rig)
  if (replaced !== newer) t.match(await second.request({ command: 'pair', code: replaced }), { code: 'MPOS_ERR_PAIRING_CODE_WRONG' }, 'a replaced code is void')
  t.match(await second.request({ command: 'pair', code: newer }), { success: true })
})

t.test('a code expires 2 minutes after it was issued (the bridge clock)', async (t) => {
  const clock = new ManualClock()
  const rig = await startBridge(t, { requirePairing: true, clock })
  const ws = await page(t, rig)
  newCode(rig)
  await clock.sleep(CODE_TTL_MS - 1000)
  const code = newCode(rig)
  const issued = clock.now()
  await clock.sleep(CODE_TTL_MS - 1)
  t.equal(clock.now() - issued, CODE_TTL_MS - 1)
  t.ok(rig.server.pairing.codeValid, 'valid until the last millisecond')
  await clock.sleep(1)
  t.match(await ws.request({ command: 'pair', code }), { success: false, code: 'MPOS_ERR_PAIRING_CODE_EXPIRED', error: /expired/ })
})

t.test('pair attempts are rate-limited for the whole bridge', async (t) => {
  const clock = new ManualClock()
  const rig = await startBridge(t, { requirePairing: true, clock })
  const ws = await page(t, rig)
  // Opened first: on the auto-advancing clock, an idle moment while a code is valid jumps to its expiry.
  const other = await page(t, rig, OTHER)
  let code = ''
  for (let i = 0; i < 10; i++) {
    if (i % 4 === 0) code = newCode(rig) // fewer than 5 wrong per code: none locks
    t.match(await ws.request({ command: 'pair', code: wrongOf(code) }), { code: 'MPOS_ERR_PAIRING_CODE_WRONG' })
  }
  code = newCode(rig)
  t.match(await other.request({ command: 'pair', code }), { success: false, code: 'MPOS_ERR_PAIRING_RATE_LIMITED' }, 'the 11th attempt within a minute, from any connection')
  await clock.sleep(PAIR_WINDOW_MS)
  t.match(await other.request({ command: 'pair', code }), { success: true }, 'a minute later')
})

t.test('revoking a pairing: its token stops working, on open connections too', async (t) => {
  const rig = await startBridge(t, { requirePairing: true })
  const a = await page(t, rig)
  const { response } = await a.request({ command: 'pair', code: newCode(rig) })
  const b = await page(t, rig)
  t.match(await b.request({ command: 'authenticate', token: response.token }), { success: true })
  const keep = await page(t, rig)
  const other = (await keep.request({ command: 'pair', code: newCode(rig) })).response
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1, context: 'till-1' }), { success: true })

  t.same(rig.server.pairing.list().map((p) => p.id), [1, 2])
  t.match(rig.server.pairing.revoke(1), { record: { id: 1, origin: POS }, connections: 2 })
  for (const ws of [a, b]) t.match(await ws.request({ command: 'display_message', message: 'x', context: 'till-1' }), { code: 'MPOS_ERR_NOT_PAIRED', error: /was revoked/ })
  t.match(await a.request({ command: 'status', context: 'till-1' }), { success: true }, 'status still answers')
  const c = await page(t, rig)
  t.match(await c.request({ command: 'authenticate', token: response.token }), { success: false, code: 'MPOS_ERR_PAIRING_TOKEN_REVOKED' })
  t.same(rig.server.pairing.list().map((p) => p.id), [2], 'listed no more')
  t.equal(rig.server.pairing.revoke(1), undefined, 'revoked once')
  t.match(await keep.request({ command: 'display_message', message: 'x', context: 'till-1' }), { success: true }, 'the other pairing is untouched')
  t.ok(other.token)
})

t.test('an unpaired connection is told nothing of the payments of others', async (t) => {
  const rig = await startBridge(t, { requirePairing: true })
  const till = await page(t, rig)
  const { token } = (await till.request({ command: 'pair', code: newCode(rig) })).response
  const spy = await page(t, rig)
  t.match(await spy.request({ command: 'status', context: 'till-1' }), { success: true })
  t.match(await till.request({ command: 'initialize', encryption_key: EK, device_id: 1, context: 'till-1' }), { success: true })
  // The paying page leaves mid-payment: its outcome waits in the journal for the next connection on the context.
  till.sendRaw(JSON.stringify({ command: 'process_payment', amount: 1000, context: 'till-1', command_id: 'pay-1' }))
  await rig.until(() => rig.server.runtime.contexts().some((c) => JSON.stringify(c.state).includes('paying')), 'the payment runs')
  till.terminate()
  await rig.until(() => rig.server.journal.find('till-1', '"pay-1"')?.state === 'done', 'the payment is answered')
  const status = await spy.request({ command: 'status', context: 'till-1' })
  t.notOk('awaiting_finish' in status.response, 'no payment awaiting its finish shown')
  t.same(spy.events().filter((e) => e.event !== 'device_added' && e.event !== 'device_removed'), [], 'no status, pinpad_message or payment_status event')
  t.notMatch(spy.raw.join('\n'), /card_hash/)

  const back = await page(t, rig)
  await back.request({ command: 'authenticate', token })
  const seen = await back.request({ command: 'status', context: 'till-1' })
  t.match(seen.response.awaiting_finish, [{ command_id: 'pay-1', amount: 1000 }], 'the paired page that comes back is shown it')
  t.match(back.events('payment_status'), [{ context: 'till-1', command_id: 'pay-1', result: { status: 'accepted', card_hash: String } }], 'and handed the outcome')
})

t.test('without --require-pairing: nothing is refused; pair and authenticate still work', async (t) => {
  const rig = await startBridge(t)
  const ws = await page(t, rig)
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const paired = await ws.request({ command: 'pair', code: newCode(rig) })
  t.match(paired, { success: true, response: { origin: POS } })
  const next = await page(t, rig)
  t.match(await next.request({ command: 'authenticate', token: paired.response.token }), { success: true })
})

t.test('no code, token or secret in the log lines', async (t) => {
  const { logger, lines } = memoryLogger('trace')
  const rig = await startBridge(t, { requirePairing: true, logger })
  const ws = await page(t, rig)
  const code = newCode(rig)
  await ws.request({ command: 'pair', code: wrongOf(code) })
  const { response } = await ws.request({ command: 'pair', code })
  const next = await page(t, rig)
  await next.request({ command: 'authenticate', token: response.token })
  await next.request({ command: 'authenticate', token: `${response.token.slice(0, -2)}AA` })
  const text = JSON.stringify(lines())
  t.match(text, /page paired/, 'pairing is logged')
  t.notMatch(text, response.token.slice(4), 'not the token')
  t.notMatch(text, new RegExp(`(?<!\\d)(${code}|${wrongOf(code)})(?!\\d)`), 'not the code, right or wrong')
})
