/**
 * "Pointed with --api-url at another server that implements the two endpoints with its own key,
 * the bridge produces hashes that server can decrypt." The other server here is a plain
 * node:http server with its own RSA-2048 key, written from docs/acquirer.md alone: it shares no
 * code with the sandbox. Also: a wrong encryption key (401) and an unreachable API as the
 * WebSocket client sees them, with and without stored tables.
 */
import t from 'tap'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'
import { findCard } from '../../src/simulator/cards.js'
import { maskEncryptionKey } from '../../src/acquirer/encryption-key.js'
import { basicHeader, closedPort, connect, ENCRYPTION_KEY, expectedFields, pinpadOf, recordPinpad, startBridge, tempDir, type HttpServer } from './helpers.js'
import { EXTERNAL_KEY, EXTERNAL_TABLES, startExternalAcquirer } from './other-acquirer.js'

const updatesRequests = (server: HttpServer) => server.requests.filter((r) => r.path.endsWith('/terminal/updates'))
const keyRequests = (server: HttpServer) => server.requests.filter((r) => r.path.endsWith('/transactions/card_hash_key'))

t.test('the bridge pointed at another acquirer makes card hashes that acquirer opens with its own key', async (t) => {
  const acquirer = await startExternalAcquirer(t)
  const dataDir = tempDir(t)
  const bridge = await startBridge(t, { dataDir, apiUrl: acquirer.apiUrl })
  const pad = pinpadOf(bridge)
  const rec = recordPinpad(pad)
  const client = await connect(t, bridge)

  const init = await client.call({ command: 'initialize', encryption_key: EXTERNAL_KEY })
  t.equal(init.success, true, 'initialize succeeds')
  const [updates] = updatesRequests(acquirer.server)
  t.equal(updatesRequests(acquirer.server).length, 1)
  t.equal(updates!.method, 'GET')
  t.equal(updates!.authorization, basicHeader(EXTERNAL_KEY, 'x'), 'Basic auth: the encryption key, password "x"')
  t.equal(updates!.query.get('checksum'), '', 'no stored version yet')
  t.equal(updates!.query.get('dukpt_keys'), '[1]', 'the DUKPT keys the pinpad holds')
  t.equal(updates!.status, 200)
  const tli = rec.find('TLI')
  t.equal(tli.length, 1, 'the tables of the other acquirer are loaded')
  t.equal(tli[0]!.request.TLI_TABVER, EXTERNAL_TABLES.version)
  t.equal(pad.tables.version(0), EXTERNAL_TABLES.version)

  const sandboxProbe = await fetch(`${bridge.url}/sandbox/1/transactions/card_hash_key`, { headers: { authorization: basicHeader(ENCRYPTION_KEY) } })
  t.equal(sandboxProbe.status, 404, 'no embedded sandbox when --api-url is given')

  const payments = [
    { card: 'visa-credit', amount: 8800, fields: ['card_emv_data', 'card_pin_mode', 'card_pin', 'card_pin_kek'] },
    { card: 'magstripe-credit', amount: 1990, fields: [] },
  ]
  for (const [n, p] of payments.entries()) {
    pad.cardholder.present(p.card)
    const paid = await client.call({ command: 'process_payment', amount: p.amount })
    t.equal(paid.response.status, 'accepted', `${p.card}: accepted`)
    t.equal(keyRequests(acquirer.server).length, 1, 'the card-hash key is fetched once per initialize, by its first payment')
    t.equal(keyRequests(acquirer.server)[0]!.authorization, basicHeader(EXTERNAL_KEY, 'x'))
    const hash: string = paid.response.card_hash
    t.match(hash, /^ck\d+_[A-Za-z0-9+/]+={0,2}$/, 'card_hash starts with the alphanumeric key id of that server')

    // The shop server sends it to the other acquirer, which opens it.
    const res = await fetch(`${acquirer.apiUrl}/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount: p.amount, card_hash: hash }),
    })
    t.equal(res.status, 200, 'the other acquirer opens the card hash')
    const answer = (await res.json()) as { acquirer_response_code: string; card_emv_response?: string }
    const fields = acquirer.opened[n]!
    const card = findCard(p.card)
    const expected = expectedFields(card)
    t.same(Object.keys(fields), [...Object.keys(expected), ...p.fields], 'form fields in order')
    t.same(Object.fromEntries(Object.keys(expected).map((k) => [k, fields[k]])), expected, `${p.card}: the card presented`)
    if (card.interface === 'chip') {
      t.match(fields.card_emv_data, /^([0-9A-F]{2})+$/)
      t.equal(fields.card_pin_mode, 'online')
      t.match(fields.card_pin, /^[0-9A-F]{16}$/)
      t.match(fields.card_pin_kek, /^[0-9A-F]{20}$/)
    }

    const finish = await client.call({
      command: 'finish_payment',
      success: true,
      response_code: answer.acquirer_response_code,
      ...(answer.card_emv_response ? { emv_data: answer.card_emv_response } : {}),
    })
    t.equal(finish.success, true, 'finish_payment succeeds')
  }
  const [fcx] = rec.find('FCX')
  t.equal(fcx?.request.SPE_EMVDATA.toString('hex').toUpperCase(), '8A023030910AA1B2C3D4E5F607183030', 'the other acquirer\'s issuer data reached the chip')
  t.equal(fcx?.response.PP_FCXRES, '000')
  t.same(
    acquirer.server.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
    [
      'GET /api/v1/terminal/updates 200',
      'GET /api/v1/transactions/card_hash_key 200',
      'POST /api/v1/transactions 200',
      'POST /api/v1/transactions 200',
    ],
    'what the other acquirer saw',
  )
})

t.test('a wrong encryption key: the 401 reaches the client as a clear initialize error', async (t) => {
  const acquirer = await startExternalAcquirer(t)
  const bridge = await startBridge(t, { dataDir: tempDir(t), apiUrl: acquirer.apiUrl })
  const rec = recordPinpad(pinpadOf(bridge))
  const client = await connect(t, bridge)
  const wrong = 'ek_live_WrongWrongWrong0000Xy12'

  const init = await client.call({ command: 'initialize', encryption_key: wrong })
  t.equal(init.success, false)
  t.equal(init.code, 'MPOS_ERR_ACQUIRER_UNAUTHORIZED')
  t.match(init.error, /invalid encryption key/, 'the message says why')
  t.match(init.error, maskEncryptionKey(wrong), 'and names the key masked')
  t.notMatch(init.error, wrong, 'never the whole key')
  t.same(
    acquirer.server.requests.map((r) => `${r.path} ${r.status}`),
    ['/api/v1/terminal/updates 401'],
    'asked once: a 401 is not retried',
  )
  t.equal(rec.ids().at(-1), 'CLO', 'the pinpad is closed again')
  const status = await client.call({ command: 'status' })
  t.match(status.response, { status: 'idle', connected_device_id: null, last_error: { code: 'MPOS_ERR_ACQUIRER_UNAUTHORIZED' } })

  const again = await client.call({ command: 'initialize', encryption_key: EXTERNAL_KEY })
  t.equal(again.success, true, 'the right key works on the same context afterwards')
})

t.test('a wrong key with simple_initialize: the card-hash key\'s 401 fails the payment clearly', async (t) => {
  const acquirer = await startExternalAcquirer(t)
  const bridge = await startBridge(t, { dataDir: tempDir(t), apiUrl: acquirer.apiUrl })
  const pad = pinpadOf(bridge)
  const client = await connect(t, bridge)
  const wrong = 'ek_live_WrongWrongWrong0000Xy12'
  const init = await client.call({ command: 'initialize', encryption_key: wrong, simple_initialize: true })
  t.equal(init.success, true, 'no table sync, so the key is not checked yet')
  t.same(acquirer.server.requests, [])

  pad.cardholder.present('magstripe-credit')
  const paid = await client.call({ command: 'process_payment', amount: 1000 })
  t.equal(paid.success, true)
  t.match(paid.response, { status: 'errored', error_type: 'MPOS_ERR_ACQUIRER_UNAUTHORIZED', error: /invalid encryption key/ })
  t.notMatch(paid.response.error, wrong, 'the key only masked')
  t.notOk('card_hash' in paid.response)
  t.same(acquirer.server.requests.map((r) => `${r.path} ${r.status}`), ['/api/v1/transactions/card_hash_key 401'], 'asked once')
  t.equal(bridge.runtime.vault.size, 0, 'the card data is gone')
  t.equal((await client.call({ command: 'finish_payment', success: false })).success, true)
})

t.test('an unreachable --api-url', async (t) => {
  const apiUrl = `http://127.0.0.1:${await closedPort()}/api/v1`

  await t.test('without stored tables, initialize fails clearly', async (t) => {
    const bridge = await startBridge(t, { dataDir: tempDir(t), apiUrl })
    const rec = recordPinpad(pinpadOf(bridge))
    const client = await connect(t, bridge)
    const init = await client.call({ command: 'initialize', encryption_key: EXTERNAL_KEY })
    t.equal(init.success, false)
    t.equal(init.code, 'MPOS_ERR_ACQUIRER_UNREACHABLE')
    t.match(init.error, /Cannot reach the acquirer for GET \/terminal\/updates after 3 attempt\(s\): ECONNREFUSED/)
    t.notOk(rec.ids().includes('TLI'), 'nothing was loaded')
    t.equal(rec.ids().at(-1), 'CLO', 'the pinpad is closed again')
    const status = await client.call({ command: 'status' })
    t.equal(status.response.status, 'idle')
  })

  await t.test('with stored tables, initialize works from the store', async (t) => {
    const dataDir = tempDir(t)
    // A first run, online, stores the other acquirer's tables.
    const acquirer = await startExternalAcquirer(t)
    const online = await startBridge(t, { dataDir, apiUrl: acquirer.apiUrl })
    const first = await connect(t, online)
    t.equal((await first.call({ command: 'initialize', encryption_key: EXTERNAL_KEY })).success, true)
    await first.close()
    await online.close()

    // Then the link to the acquirer is gone; the pinpad arrives with its factory tables.
    const offline = await startBridge(t, { dataDir, apiUrl })
    const pad = pinpadOf(offline)
    t.equal(pad.tables.version(0), DEFAULT_TABLES.version)
    const rec = recordPinpad(pad)
    const client = await connect(t, offline)
    const init = await client.call({ command: 'initialize', encryption_key: EXTERNAL_KEY })
    t.equal(init.success, true, 'initialize succeeds with the stored tables')
    const tli = rec.find('TLI')
    t.equal(tli.length, 1)
    t.equal(tli[0]!.request.TLI_TABVER, EXTERNAL_TABLES.version, 'the stored tables are loaded into the pinpad')
    t.equal(pad.tables.version(0), EXTERNAL_TABLES.version)

    // A card hash still needs the acquirer's key: the payment fails clearly, and finish_payment closes it.
    pad.cardholder.present('visa-credit')
    const paid = await client.call({ command: 'process_payment', amount: 1000 })
    t.equal(paid.success, true)
    t.match(paid.response, { status: 'errored', error_type: 'MPOS_ERR_ACQUIRER_UNREACHABLE' })
    t.notOk('card_hash' in paid.response, 'no card hash')
    t.equal(offline.runtime.vault.size, 0, 'the card data is gone')
    const finish = await client.call({ command: 'finish_payment', success: false })
    t.equal(finish.success, true)
  })
})
