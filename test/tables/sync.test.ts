import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { AcquirerClient } from '../../src/acquirer/client.js'
import { TablesStore } from '../../src/tables/store.js'
import { syncTables } from '../../src/tables/sync.js'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'
import type { EmvTables } from '../../src/tables/types.js'
import { json, startServer } from '../acquirer/http-server.js'

const KEY = 'ek_test_Qx7ZpR3vT9sLm2Wn8Kd4Ll23'
const MODEL = 'PPC930'

/** A terminal/updates endpoint serving `current`, 304 when the checksum matches. */
async function acquirer(t: Test) {
  const state = { current: { ...DEFAULT_TABLES, version: 'V1' } as EmvTables, status: 200 }
  const server = await startServer((req, res) => {
    if (state.status !== 200) return json(res, state.status, { errors: [] })
    const checksum = new URL(req.url!, 'http://x').searchParams.get('checksum')
    if (checksum === state.current.version) {
      res.writeHead(304)
      res.end()
    } else json(res, 200, state.current)
  })
  t.teardown(() => server.close())
  const client = new AcquirerClient({ baseUrl: server.baseUrl, timeoutMs: 2000, retries: 1, retryDelayMs: 5 })
  return { state, server, client }
}

function storeDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mpos-sync-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('first load, 304, version change, restart', async (t) => {
  const { state, server, client } = await acquirer(t)
  const dir = storeDir(t)
  const opts = { client, encryptionKey: KEY, pinpadModel: MODEL, dukptKeys: [1, 2] }

  const first = await syncTables({ ...opts, store: new TablesStore(dir) })
  t.match(first, { version: 'V1', source: 'acquirer', changed: true, stale: false })
  t.same(first.tables, state.current)

  const second = await syncTables({ ...opts, store: new TablesStore(dir) })
  t.match(second, { version: 'V1', source: 'store', changed: false, stale: false })
  t.same(second.tables, state.current)

  state.current = { ...DEFAULT_TABLES, version: 'V2', applications: DEFAULT_TABLES.applications.slice(0, 2) }
  const third = await syncTables({ ...opts, store: new TablesStore(dir) })
  t.match(third, { version: 'V2', source: 'acquirer', changed: true })
  t.equal(third.tables.applications.length, 2)

  const afterRestart = await syncTables({ ...opts, store: new TablesStore(dir) })
  t.match(afterRestart, { version: 'V2', source: 'store', changed: false })

  t.same(
    server.requests.map((r) => r.url),
    [
      '/1/terminal/updates?checksum=&dukpt_keys=[1,2]',
      '/1/terminal/updates?checksum=V1&dukpt_keys=[1,2]',
      '/1/terminal/updates?checksum=V1&dukpt_keys=[1,2]',
      '/1/terminal/updates?checksum=V2&dukpt_keys=[1,2]',
    ],
  )
})

t.test('acquirer down: the stored tables, flagged stale; nothing stored: the error', async (t) => {
  const { state, client } = await acquirer(t)
  const dir = storeDir(t)
  const opts = { client, encryptionKey: KEY, pinpadModel: MODEL, dukptKeys: [1] }
  await t.rejects(syncTables({ ...opts, store: new TablesStore(dir), signal: AbortSignal.abort() }), { code: 'MPOS_ERR_ACQUIRER_ABORTED' })
  await syncTables({ ...opts, store: new TablesStore(dir) })

  state.status = 503
  const offline = await syncTables({ ...opts, store: new TablesStore(dir) })
  t.match(offline, { version: 'V1', source: 'store', changed: false, stale: true })
  await t.rejects(syncTables({ ...opts, store: new TablesStore(dir), offlineFallback: false }), { code: 'MPOS_ERR_ACQUIRER_UNAVAILABLE' })
  await t.rejects(syncTables({ ...opts, store: new TablesStore(storeDir(t)) }), { code: 'MPOS_ERR_ACQUIRER_UNAVAILABLE' }, 'no fallback without stored tables')

  state.status = 401
  await t.rejects(syncTables({ ...opts, store: new TablesStore(dir) }), { code: 'MPOS_ERR_ACQUIRER_UNAUTHORIZED' }, 'a refused key is never hidden by the fallback')
})

t.test('304 with nothing stored is an error', async (t) => {
  const client = { getTerminalUpdates: async () => ({ upToDate: true as const }) }
  await t.rejects(
    syncTables({ client, store: new TablesStore(storeDir(t)), encryptionKey: KEY, pinpadModel: MODEL, dukptKeys: [] }),
    { code: 'MPOS_ERR_TABLES_MISSING' },
  )
})
