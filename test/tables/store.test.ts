import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { TablesStore } from '../../src/tables/store.js'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'
import type { EmvTables } from '../../src/tables/types.js'

const KEY = 'ek_test_Qx7ZpR3vT9sLm2Wn8Kd4Ll23'
const MODEL = 'PPC930'
const v = (version: string): EmvTables => ({ ...DEFAULT_TABLES, version })

function dataDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mpos-store-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function logger() {
  const warnings: string[] = []
  return { warnings, warn: (obj: object, msg?: string) => void warnings.push(`${msg} ${JSON.stringify(obj)}`) }
}

t.test('save, then load from a new instance (a restart)', async (t) => {
  const dir = dataDir(t)
  t.equal(await new TablesStore(dir).load(KEY, MODEL), undefined, 'nothing stored yet')
  const saved = await new TablesStore(dir).save(KEY, MODEL, v('V1'))
  t.equal(saved.version, 'V1')
  const restarted = new TablesStore(dir)
  const loaded = await restarted.load(KEY, MODEL)
  t.same(loaded?.tables, v('V1'))
  t.equal(loaded?.version, 'V1')
  t.equal(loaded?.pinpadModel, MODEL)
  t.match(loaded?.savedAt, /^\d{4}-\d\d-\d\dT/)
  t.equal(await restarted.version(KEY, MODEL), 'V1')
})

t.test('one file per encryption key and pinpad model; the key is never written', async (t) => {
  const dir = dataDir(t)
  const store = new TablesStore(dir)
  await store.save(KEY, MODEL, v('K1M1'))
  await store.save(KEY, 'MOBIPIN10', v('K1M2'))
  await store.save('ek_test_another0000000000000', MODEL, v('K2M1'))
  t.equal(await store.version(KEY, MODEL), 'K1M1')
  t.equal(await store.version(KEY, 'MOBIPIN10'), 'K1M2')
  t.equal(await store.version('ek_test_another0000000000000', MODEL), 'K2M1')
  t.equal(await store.version('ek_test_unknown', MODEL), undefined)
  const files = readdirSync(store.dir)
  t.equal(files.length, 3)
  for (const f of files) {
    t.match(f, /^[0-9a-f]{40}\.json$/)
    const text = readFileSync(path.join(store.dir, f), 'utf8')
    t.notMatch(text, 'ek_test_', 'no key (or its prefix) in the file')
    t.notMatch(text, 'Ll23')
  }
  t.equal(path.dirname(store.fileFor(KEY, MODEL)), store.dir)
  t.not(store.fileFor(KEY, MODEL), store.fileFor(KEY, 'MOBIPIN10'))
  await store.remove(KEY, MODEL)
  t.equal(await store.version(KEY, MODEL), undefined)
  await store.remove(KEY, MODEL) // removing twice is fine
})

t.test('a failure between the temp write and the rename leaves the old store intact', async (t) => {
  const dir = dataDir(t)
  await new TablesStore(dir).save(KEY, MODEL, v('OLD'))
  const failing = new TablesStore(dir, {
    beforeRename: () => {
      throw new Error('disk vanished')
    },
  })
  await t.rejects(failing.save(KEY, MODEL, v('NEW')), { code: 'MPOS_ERR_TABLES_STORE', message: /cannot write [0-9a-f]{40}\.json/ })
  t.equal(await new TablesStore(dir).version(KEY, MODEL), 'OLD')
  t.same(readdirSync(failing.dir).filter((f) => f.endsWith('.tmp')), [], 'the temp file is removed')
})

t.test('a process killed between the temp write and the rename: the old store is intact', async (t) => {
  const dir = dataDir(t)
  const store = new TablesStore(dir)
  await store.save(KEY, MODEL, v('OLD'))
  const script = fileURLToPath(new URL('./crash-save.ts', import.meta.url))
  const result = await new Promise<{ signal: string | null }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, dir, KEY, MODEL, 'NEW'], (err) =>
      resolve({ signal: (err as { signal?: string } | null)?.signal ?? null }),
    )
  })
  t.equal(result.signal, 'SIGKILL', 'the child died mid-save')
  const temps = readdirSync(store.dir).filter((f) => f.endsWith('.tmp'))
  t.equal(temps.length, 1, 'it left its complete temp file behind')
  t.match(readFileSync(path.join(store.dir, temps[0]!), 'utf8'), /"version":"NEW"/)
  t.equal(await new TablesStore(dir).version(KEY, MODEL), 'OLD', 'readers still see the old version')

  // The next save works and sweeps the crash's leftover once it is old enough.
  const old = new Date(Date.now() - 5 * 60_000)
  utimesSync(path.join(store.dir, temps[0]!), old, old)
  await store.save(KEY, MODEL, v('NEWER'))
  t.equal(await store.version(KEY, MODEL), 'NEWER')
  t.same(readdirSync(store.dir).filter((f) => f.endsWith('.tmp')), [])
})

t.test('an unreadable store is ignored with a warning (the tables are downloaded again)', async (t) => {
  const dir = dataDir(t)
  const log = logger()
  const store = new TablesStore(dir, { logger: log })
  await store.save(KEY, MODEL, v('V1'))
  const file = store.fileFor(KEY, MODEL)

  writeFileSync(file, '{"format":1,"pinpad_mo')
  t.equal(await store.load(KEY, MODEL), undefined, 'truncated JSON')
  writeFileSync(file, JSON.stringify({ format: 2, pinpad_model: MODEL, saved_at: 'x', tables: v('V1') }))
  t.equal(await store.load(KEY, MODEL), undefined, 'another format')
  writeFileSync(file, JSON.stringify({ format: 1, pinpad_model: MODEL, saved_at: 'x', tables: { ...v('V1'), version: 'MUCH TOO LONG' } }))
  t.equal(await store.load(KEY, MODEL), undefined, 'tables out of shape')
  writeFileSync(file, JSON.stringify({ format: 1, pinpad_model: 'OTHER', saved_at: 'x', tables: v('V1') }))
  t.equal(await store.load(KEY, MODEL), undefined, 'another model')
  t.equal(log.warnings.length, 4)
  t.match(log.warnings[2]!, /store\/tables\/version must match pattern/)
  t.notMatch(log.warnings.join('\n'), KEY)

  await store.save(KEY, MODEL, v('V2'))
  t.equal(await store.version(KEY, MODEL), 'V2', 'a save replaces the broken file')
})

t.test('concurrent saves to one file run in turn; the last one wins', async (t) => {
  const dir = dataDir(t)
  const store = new TablesStore(dir)
  await Promise.all(['A', 'B', 'C', 'D', 'E'].map((x) => store.save(KEY, MODEL, v(x))))
  t.equal(await new TablesStore(dir).version(KEY, MODEL), 'E')
  t.same(readdirSync(store.dir).filter((f) => f.endsWith('.tmp')), [])
})
