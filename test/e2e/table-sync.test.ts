/**
 * EMV table sync through the whole bridge (docs/emv-tables.md "Store and sync"): initialize asks
 * the acquirer with the stored version as `checksum`, keeps what it sends, and loads the pinpad
 * (TLI/TLR×n/TLE) only when the pinpad reports another version. The acquirer here is a plain HTTP
 * server that counts what it is asked; the pinpad side is what the virtual pinpad received.
 */
import t, { type Test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'
import { parseEmv } from '../../src/abecs/emv-tlv.js'
import { aidLayoutFor, buildTableRecords } from '../../src/tables/records.js'
import { TablesStore } from '../../src/tables/store.js'
import type { EmvTables } from '../../src/tables/types.js'
import type { BridgeServer } from '../../src/server/app.js'
import { connect, linkCommands, pinpadOf, recordPinpad, startBridge, tempDir, type Exchange, type WsClient } from './helpers.js'
import { EXTERNAL_KEY as KEY, startExternalAcquirer, type ExternalAcquirer } from './other-acquirer.js'

const MODEL = 'MOBI PIN 10'

/** Version 1: the default set without Amex (a different content, so a different record count). */
const V1: EmvTables = {
  ...DEFAULT_TABLES,
  version: 'TSYNC-0001',
  aids: DEFAULT_TABLES.aids.filter((a) => !a.aid.startsWith('A000000025')),
  capks: DEFAULT_TABLES.capks.filter((c) => c.rid !== 'A000000025'),
  applications: DEFAULT_TABLES.applications.filter((a) => a.card_brand !== 'amex'),
}
/** Version 2: the whole default set under another version. */
const V2: EmvTables = { ...DEFAULT_TABLES, version: 'TSYNC-0002' }

const recordCount = (tables: EmvTables) => tables.aids.length + tables.capks.length + (tables.revoked_certificates?.length ?? 0)

const updates = (acquirer: ExternalAcquirer) =>
  acquirer.server.requests.filter((r) => r.path.endsWith('/terminal/updates')).map((r) => ({ checksum: r.query.get('checksum'), dukpt_keys: r.query.get('dukpt_keys'), status: r.status }))

/** The table commands of an initialize, and what GIX/GTS said the pinpad held before. */
function tableTraffic(exchanges: Exchange[]) {
  const ids = exchanges.map((e) => e.id).filter((id) => ['TLI', 'TLR', 'TLE'].includes(id))
  const tli = exchanges.filter((e) => e.id === 'TLI').map((e) => e.request)
  const tlr = exchanges.filter((e) => e.id === 'TLR')
  const versionAsked = exchanges.find((e) => (e.id === 'GIX' && e.request?.SPE_IDLIST) || e.id === 'GTS')
  const pinpadVersion: string | undefined = versionAsked?.id === 'GTS' ? versionAsked.response?.GTS_TABVER : versionAsked?.response?.PP_TABVER00
  return { ids, tli, tlr, pinpadVersion }
}

/**
 * TLI, TLR×n, TLE with every record of `tables`, each TLR within one 999-byte block (§3.5.3), the AID
 * records sized for the pinpad's ABECS version (§4.1.1: 284 bytes for 1.x).
 */
function checkLoad(t: Test, exchanges: Exchange[], tables: EmvTables, specVersion = '2.12') {
  const { ids, tli, tlr } = tableTraffic(exchanges)
  t.same(tli, [{ TLI_ACQIDX: '00', TLI_TABVER: tables.version }], `TLI 00 with version ${tables.version}`)
  t.ok(tlr.length >= 1, `${tlr.length} TLR`)
  t.same(ids, ['TLI', ...tlr.map(() => 'TLR'), 'TLE'], 'TLI, TLR×n, TLE in that order')
  t.ok(tlr.every((e) => e.status === 0), 'every TLR accepted')
  const records: Buffer[] = tlr.flatMap((e) => e.request.records as Buffer[])
  t.equal(records.length, recordCount(tables), 'every AID and CAPK record was sent')
  t.ok(tlr.every((e) => 2 + (e.request.records as Buffer[]).reduce((n, r) => n + r.length, 0) <= 999), 'each TLR fits one block')
  const layout = aidLayoutFor(specVersion)
  t.same(Buffer.concat(records), Buffer.concat(buildTableRecords(tables, 0, layout)), `the records of the acquirer's tables (AID records of ${layout} bytes)`)
}

async function initialize(t: Test, client: WsClient): Promise<void> {
  const init = await client.call({ command: 'initialize', encryption_key: KEY })
  t.equal(init.success, true, 'initialize succeeds')
}

async function close(t: Test, client: WsClient): Promise<void> {
  t.equal((await client.call({ command: 'close' })).success, true, 'close')
}

async function chipPayment(t: Test, bridge: BridgeServer, client: WsClient, acquirer: ExternalAcquirer) {
  const pad = pinpadOf(bridge)
  pad.cardholder.present('visa-credit')
  const paid = await client.call({ command: 'process_payment', amount: 4200 })
  t.equal(paid.response?.status, 'accepted', 'a chip payment works with the tables loaded')
  if (paid.response?.status !== 'accepted') {
    await client.call({ command: 'finish_payment', success: false })
    return
  }
  const res = await fetch(`${acquirer.apiUrl}/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 4200, card_hash: paid.response.card_hash }) })
  const answer = (await res.json()) as { acquirer_response_code: string; card_emv_response: string }
  const finish = await client.call({ command: 'finish_payment', success: true, response_code: answer.acquirer_response_code, emv_data: answer.card_emv_response })
  t.equal(finish.success, true, 'finish_payment')
}

t.test('first load, 304 with nothing to load, a new version, a pinpad with other tables', async (t) => {
  const acquirer = await startExternalAcquirer(t, V1)
  const dataDir = tempDir(t)
  const bridge = await startBridge(t, { dataDir, apiUrl: acquirer.apiUrl })
  const pad = pinpadOf(bridge)
  const rec = recordPinpad(pad)
  const link = linkCommands(pad)
  t.teardown(link.stop)
  const tableCommands = () => link.ids.filter((id) => ['TLI', 'TLR', 'TLE'].includes(id))
  const client = await connect(t, bridge)
  const store = new TablesStore(dataDir)

  await t.test('the first initialize downloads the tables and loads them into the pinpad', async (t) => {
    await initialize(t, client)
    t.same(tableCommands(), tableTraffic(rec.exchanges).ids, 'the pinpad\'s link events report the same TLI, TLR×n, TLE')
    t.ok(tableCommands().length >= 3)
    t.same(updates(acquirer), [{ checksum: '', dukpt_keys: '[1]', status: 200 }], 'one download, nothing stored before')
    const traffic = tableTraffic(rec.exchanges)
    t.equal(traffic.pinpadVersion, DEFAULT_TABLES.version, 'GIX: the pinpad held its factory tables')
    checkLoad(t, rec.exchanges, V1)
    t.equal(pad.tables.version(0), V1.version, 'the pinpad now holds the acquirer\'s version')
    t.equal(pad.tables.count, recordCount(V1))
    t.equal((await store.load(KEY, MODEL))?.version, V1.version, 'stored')
    await close(t, client)
  })

  await t.test('a second initialize gets 304 and loads nothing', async (t) => {
    rec.clear()
    await initialize(t, client)
    t.same(updates(acquirer).slice(1), [{ checksum: V1.version, dukpt_keys: '[1]', status: 304 }], 'asked with the stored version: 304')
    const traffic = tableTraffic(rec.exchanges)
    t.equal(traffic.pinpadVersion, V1.version, 'GIX PP_TABVER00 is the acquirer\'s version')
    t.same(traffic.ids, [], 'no TLI, TLR or TLE')
    link.ids.length = 0
    await chipPayment(t, bridge, client, acquirer)
    t.same(tableCommands(), [], 'none on the link events either, through a payment')
    await close(t, client)
  })

  await t.test('the acquirer publishes a new version: the next initialize reloads', async (t) => {
    acquirer.tables = V2
    rec.clear()
    await initialize(t, client)
    t.same(updates(acquirer).slice(2), [{ checksum: V1.version, dukpt_keys: '[1]', status: 200 }])
    t.equal(tableTraffic(rec.exchanges).pinpadVersion, V1.version)
    checkLoad(t, rec.exchanges, V2)
    t.equal(pad.tables.version(0), V2.version)
    t.equal(pad.tables.count, recordCount(V2))
    t.equal((await store.load(KEY, MODEL))?.version, V2.version, 'the store holds the new version')
    await close(t, client)
  })

  await t.test('a pinpad that arrives with other tables is reloaded from the store', async (t) => {
    pad.tables.preload('OTHER-0042', buildTableRecords(V1))
    rec.clear()
    await initialize(t, client)
    t.same(updates(acquirer).slice(3), [{ checksum: V2.version, dukpt_keys: '[1]', status: 304 }], 'nothing to download')
    t.equal(tableTraffic(rec.exchanges).pinpadVersion, 'OTHER-0042', 'GIX: the pinpad reports other tables')
    checkLoad(t, rec.exchanges, V2)
    t.equal(pad.tables.version(0), V2.version)
    await close(t, client)
  })

  await t.test('a pinpad with no tables at all is loaded too', async (t) => {
    pad.tables.clear()
    rec.clear()
    await initialize(t, client)
    t.same(updates(acquirer).slice(4), [{ checksum: V2.version, dukpt_keys: '[1]', status: 304 }])
    t.equal(tableTraffic(rec.exchanges).pinpadVersion, '0000000000', 'GIX: nothing loaded')
    checkLoad(t, rec.exchanges, V2)
    await chipPayment(t, bridge, client, acquirer)
    await close(t, client)
  })
})

t.test('the store survives a restart of the bridge', async (t) => {
  const acquirer = await startExternalAcquirer(t, V1)
  const dataDir = tempDir(t)

  const first = await startBridge(t, { dataDir, apiUrl: acquirer.apiUrl })
  const firstClient = await connect(t, first)
  await initialize(t, firstClient)
  t.same(updates(acquirer), [{ checksum: '', dukpt_keys: '[1]', status: 200 }])
  await firstClient.close()
  await first.close()

  const files = readdirSync(path.join(dataDir, 'emv-tables'))
  t.equal(files.length, 1, 'one stored table file')
  t.notMatch(readFileSync(path.join(dataDir, 'emv-tables', files[0]!), 'utf8'), KEY, 'the encryption key is not written')

  await t.test('same data dir, the same pinpad (it kept its tables): 304 and nothing loaded', async (t) => {
    const bridge = await startBridge(t, { dataDir, apiUrl: acquirer.apiUrl, runtime: { simulator: { tables: { version: V1.version, records: buildTableRecords(V1) } } } })
    const rec = recordPinpad(pinpadOf(bridge))
    const client = await connect(t, bridge)
    await initialize(t, client)
    t.same(updates(acquirer).slice(1), [{ checksum: V1.version, dukpt_keys: '[1]', status: 304 }], 'no download after the restart')
    t.equal(tableTraffic(rec.exchanges).pinpadVersion, V1.version)
    t.same(tableTraffic(rec.exchanges).ids, [], 'no TLI, TLR or TLE')
    await chipPayment(t, bridge, client, acquirer)
    await client.close()
    await bridge.close()
  })

  await t.test('same data dir, a new pinpad: 304, and the stored tables are loaded into it', async (t) => {
    const bridge = await startBridge(t, { dataDir, apiUrl: acquirer.apiUrl })
    const rec = recordPinpad(pinpadOf(bridge))
    const client = await connect(t, bridge)
    await initialize(t, client)
    t.same(updates(acquirer).slice(2), [{ checksum: V1.version, dukpt_keys: '[1]', status: 304 }], 'no download')
    checkLoad(t, rec.exchanges, V1)
    await client.close()
    await bridge.close()
  })
  t.equal(acquirer.server.requests.filter((r) => r.path.endsWith('/terminal/updates')).length, 3, 'three initializes, one download')
})

/** The default set renumbered (records 11–18) with a short tag list for Visa credit: only the acquirer's tables know these. */
const RENUMBERED: EmvTables = {
  ...DEFAULT_TABLES,
  version: 'RENUM-0001',
  aids: DEFAULT_TABLES.aids.map((a) => ({ ...a, record_index: a.record_index + 10 })),
  applications: DEFAULT_TABLES.applications.map((a) => ({
    ...a,
    record_number: a.record_number + 10,
    ...(a.card_brand === 'visa' && a.payment_method === 'credit_card' ? { emv_tags: ['9F26', '9F27', '9F02', '84', '9F36'] } : {}),
  })),
}

t.test('the acquirer\'s applications choose the AID records and the EMV tags of a payment', async (t) => {
  for (const specVersion of ['2.12', '1.08'] as const) {
    await t.test(`spec ${specVersion} pinpad`, async (t) => {
      const acquirer = await startExternalAcquirer(t, RENUMBERED)
      const dataDir = tempDir(t)
      const bridge = await startBridge(t, { dataDir, apiUrl: acquirer.apiUrl, runtime: { simulator: { identity: { specVersion } } } })
      const pad = pinpadOf(bridge)
      const rec = recordPinpad(pad)
      const client = await connect(t, bridge)
      await initialize(t, client)
      checkLoad(t, rec.exchanges, RENUMBERED, specVersion)

      rec.clear()
      pad.cardholder.present('visa-credit')
      const paid = await client.call({ command: 'process_payment', amount: 3100, applications: [{ brand: 'visa', payment_method: 'credit_card' }, { brand: 'elo', payment_method: 'debit_card' }] })
      t.equal(paid.response.status, 'accepted')
      const [read] = rec.exchanges.filter((e) => e.id === 'GCR' || e.id === 'GCX')
      if (specVersion === '2.12') t.same(read!.request.SPE_AIDLIST, ['0111', '0116'], 'GCX SPE_AIDLIST: the records the acquirer named')
      else t.match(read!.request, { GCR_APPTYPREQ: '00', GCR_IDAPP: ['0111', '0116'] }, 'GCR_IDAPP: the records the acquirer named')
      const res = await fetch(`${acquirer.apiUrl}/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 3100, card_hash: paid.response.card_hash }) })
      t.equal(res.status, 200)
      const emv = Buffer.from(acquirer.opened.at(-1)!.card_emv_data!, 'hex')
      t.same(
        parseEmv(emv).map((o) => o.tag),
        ['9F26', '9F27', '9F02', '84', '9F36'],
        'the card hash carries the EMV tags the acquirer asked for, in its order',
      )
      const answer = (await res.json()) as { acquirer_response_code: string; card_emv_response: string }
      t.equal((await client.call({ command: 'finish_payment', success: true, response_code: answer.acquirer_response_code, emv_data: answer.card_emv_response })).success, true)

      rec.clear()
      const none = await client.call({ command: 'process_payment', amount: 3100, applications: [{ brand: 'diners', payment_method: 'credit_card' }] })
      t.match(none.response, { status: 'errored', error_type: 'MPOS_ERR_NO_APPLICATION' }, 'a brand the tables do not have')
      t.same(rec.ids().filter((id) => id !== 'DSP' && id !== 'RMC'), [], 'no card is asked for')
      t.equal((await client.call({ command: 'finish_payment', success: false })).success, true)
    })
  }
})

t.test('a 1.08 pinpad whose tables changed after initialize: GCR answers 020, the bridge reloads, the same GCR goes on', async (t) => {
  const acquirer = await startExternalAcquirer(t, V1)
  const bridge = await startBridge(t, { dataDir: tempDir(t), apiUrl: acquirer.apiUrl, runtime: { simulator: { identity: { specVersion: '1.08' } } } })
  const pad = pinpadOf(bridge)
  const rec = recordPinpad(pad)
  const client = await connect(t, bridge)
  await initialize(t, client)
  t.equal(pad.tables.version(0), V1.version)

  // Someone else's program loads its own tables meanwhile.
  pad.tables.preload('FOREIGN-01', buildTableRecords(DEFAULT_TABLES))
  rec.clear()
  await chipPayment(t, bridge, client, acquirer)
  const steps = rec.exchanges.filter((e) => e.id !== 'DSP' && e.id !== 'TLR')
  t.same(
    steps.map((e) => `${e.id}:${e.status}`),
    ['GCR:20', 'GTS:0', 'TLI:20', 'TLE:0', 'GCR:0', 'GOC:0', 'FNC:0', 'RMC:0'],
    '020, the reload, the resumed GCR, then the chip steps',
  )
  t.equal(steps[0]!.request.GCR_TABVER, V1.version, 'GCR announced the synced version')
  t.same(steps[4]!.request, { resume: true }, 'the GCR after the reload is the empty one (§3.6.1)')
  checkLoad(t, rec.exchanges, V1, '1.08')
  t.equal(pad.tables.version(0), V1.version)
  t.equal(updates(acquirer).length, 2, 'the reload asked the acquirer again')
  t.equal(updates(acquirer)[1]!.status, 304, 'and got 304: the stored tables were loaded')
})

t.test('simple_initialize skips the sync: the pinpad\'s tables are used as they are', async (t) => {
  for (const specVersion of ['2.12', '1.08'] as const) {
    await t.test(`spec ${specVersion} pinpad`, async (t) => {
      const acquirer = await startExternalAcquirer(t, V2)
      const dataDir = tempDir(t)
      const bridge = await startBridge(t, { dataDir, apiUrl: acquirer.apiUrl, runtime: { simulator: { identity: { specVersion } } } })
      const pad = pinpadOf(bridge)
      const rec = recordPinpad(pad)
      const client = await connect(t, bridge)
      const init = await client.call({ command: 'initialize', encryption_key: KEY, simple_initialize: true })
      t.equal(init.success, true)
      t.same(updates(acquirer), [], 'the acquirer is not asked for tables')
      t.same(tableTraffic(rec.exchanges).ids, [], 'nothing loaded')
      t.equal(await new TablesStore(dataDir).load(KEY, MODEL), undefined, 'nothing stored')

      rec.clear()
      await chipPayment(t, bridge, client, acquirer)
      t.same(
        rec.exchanges.filter((e) => e.id === 'GCR' || e.id === 'GCX').map((e) => e.status),
        [0],
        'the card read does not answer 020',
      )
      t.same(tableTraffic(rec.exchanges).ids, [], 'no table load during the payment')
      t.equal(pad.tables.version(0), DEFAULT_TABLES.version, 'the pinpad keeps its factory tables')
    })
  }
})

// A version is 1–10 printable characters (docs/emv-tables.md); TLI_TABVER and GCR_TABVER are A10.
t.test('a table version shorter than 10 characters', async (t) => {
  const SHORT: EmvTables = { ...DEFAULT_TABLES, version: 'v7' }
  for (const specVersion of ['2.12', '1.08'] as const) {
    await t.test(`spec ${specVersion} pinpad`, async (t) => {
      const acquirer = await startExternalAcquirer(t, SHORT)
      const bridge = await startBridge(t, { dataDir: tempDir(t), apiUrl: acquirer.apiUrl, runtime: { simulator: { identity: { specVersion } } } })
      const pad = pinpadOf(bridge)
      const rec = recordPinpad(pad)
      const client = await connect(t, bridge)
      await initialize(t, client)
      checkLoad(t, rec.exchanges, SHORT, specVersion)
      t.equal(pad.tables.version(0), 'v7')
      await close(t, client)

      rec.clear()
      await initialize(t, client)
      t.equal(tableTraffic(rec.exchanges).pinpadVersion, 'v7', specVersion === '1.08' ? 'GTS' : 'GIX')
      t.same(tableTraffic(rec.exchanges).ids, [], 'the versions match: nothing loaded')

      rec.clear()
      await chipPayment(t, bridge, client, acquirer)
      const read = rec.exchanges.filter((e) => e.id === 'GCR' || e.id === 'GCX')
      t.same(read.map((e) => e.status), [0], 'the card read does not answer 020 (tables differ)')
      t.same(tableTraffic(rec.exchanges).ids, [], 'and no reload during the payment')
    })
  }
})
