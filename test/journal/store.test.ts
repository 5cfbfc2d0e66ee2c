/**
 * The journal's store on a real SQLite file: schema, states, the data directory's lock, what
 * awaits a finish, card hashes removed 24 h after the finish, entries pruned after retention,
 * read-only listing while the bridge holds the lock.
 */
import t, { type Test } from 'tap'
import { mkdtemp, rm, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { CARD_HASH_KEEP_MS, JOURNAL_FILE, Journal, readJournal } from '../../src/journal/store.js'
import { DataDirLockedError } from '../../src/errors.js'

const HOUR = 3600_000

async function dir(t: Test): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mpos-journal-'))
  t.teardown(() => rm(d, { recursive: true, force: true }))
  return d
}

const payment = (key: string, amount = 1000) => ({
  context: 'till',
  key: JSON.stringify(key),
  command: 'process_payment',
  fingerprint: JSON.stringify(['process_payment', amount, null, null]),
  request: { command: 'process_payment', amount },
})
const accepted = (key: string) => ({
  command: 'process_payment',
  context: 'till',
  command_id: key,
  success: true,
  response: { status: 'accepted', card_hash: '123_abcDEF==', card_holder_name: 'MARIA SILVA', payment_method: 'credit_card' },
})

t.test('entries go running → done; the answer is kept as sent; a reopened journal still has them', async (t) => {
  const d = await dir(t)
  let now = 1_700_000_000_000
  const j = Journal.open({ dir: d, now: () => now })
  j.begin(payment('p1'))
  t.match(j.find('till', '"p1"'), { state: 'running', command: 'process_payment', request: { amount: 1000 } })
  t.equal(j.find('till', '"p2"'), undefined)
  t.equal(j.find('other', '"p1"'), undefined, 'a command_id belongs to its context')
  now += 1000
  j.complete('till', '"p1"', accepted('p1'), { awaitingFinish: true })
  t.match(j.find('till', '"p1"'), { state: 'done', answer: accepted('p1'), awaitingFinish: true, updatedAt: now })
  j.complete('till', '"p1"', { other: true })
  t.same(j.find('till', '"p1"')!.answer, accepted('p1'), 'a done entry is not overwritten')
  t.throws(() => j.begin(payment('p1')), 'a command_id is recorded once')
  j.close()
  const again = Journal.open({ dir: d })
  t.match(again.find('till', '"p1"'), { state: 'done', awaitingFinish: true })
  t.equal((await readdir(d)).includes(JOURNAL_FILE), true)
  again.close()
})

t.test('beginIfNew records a new command, and leaves a taken command_id as it was', async (t) => {
  const j = Journal.open({ dir: await dir(t) })
  t.teardown(() => j.close())
  t.equal(j.beginIfNew(payment('p1')), undefined, 'new: recorded')
  t.match(j.find('till', '"p1"'), { state: 'running', request: { amount: 1000 } })
  j.complete('till', '"p1"', accepted('p1'), { awaitingFinish: true })
  const taken = j.beginIfNew(payment('p1', 2000))
  t.match(taken, { state: 'done', answer: accepted('p1'), request: { amount: 1000 } }, 'taken: the entry already there')
  t.same(j.find('till', '"p1"'), taken, 'unchanged by the second try')
  t.equal(j.beginIfNew({ ...payment('p1'), context: 'other' }), undefined, 'the same command_id in another context is new')
})

t.test('one bridge per data directory; the lock goes with the journal', async (t) => {
  const d = await dir(t)
  const first = Journal.open({ dir: d })
  t.throws(() => Journal.open({ dir: d }), DataDirLockedError, 'a second journal on the directory is refused')
  t.throws(() => Journal.open({ dir: d }), { code: 'MPOS_ERR_DATA_DIR_LOCKED', message: new RegExp(d.replace(/[/\\]/g, '.')) })
  // The CLI reads while the bridge runs.
  first.begin(payment('p1'))
  const reader = readJournal(d)!
  t.match(reader.list(), [{ key: '"p1"', state: 'running' }], 'a read-only reader sees the entries')
  reader.close()
  first.close()
  const second = Journal.open({ dir: d })
  t.pass('free again once closed')
  second.close()
  t.equal(readJournal(await dir(t)), undefined, 'no journal in a fresh directory')
})

t.test('at start, what was running is interrupted', async (t) => {
  const d = await dir(t)
  const j = Journal.open({ dir: d })
  j.begin(payment('p1'))
  j.begin(payment('p2'))
  j.complete('till', '"p2"', accepted('p2'))
  t.equal(j.interruptRunning(), 1)
  t.match(j.find('till', '"p1"'), { state: 'interrupted' })
  t.match(j.find('till', '"p2"'), { state: 'done' })
  j.close()
})

t.test('awaiting finish until finish_payment, cancel or close of the context settles it', async (t) => {
  const j = Journal.open()
  j.begin(payment('p1'))
  j.complete('till', '"p1"', accepted('p1'), { awaitingFinish: true })
  j.begin({ ...payment('q1'), context: 'other' })
  j.complete('other', '"q1"', { ...accepted('q1'), context: 'other' }, { awaitingFinish: true })
  t.same(j.awaitingFinish().map((e) => e.context).sort(), ['other', 'till'])
  t.same(j.awaitingFinish('till').map((e) => e.key), ['"p1"'])
  j.begin({ context: 'till', key: '"f1"', command: 'finish_payment', fingerprint: '[]', request: { command: 'finish_payment', success: true } })
  j.complete('till', '"f1"', { command: 'finish_payment', success: true }, { settles: true })
  t.same(j.awaitingFinish().map((e) => e.context), ['other'], 'only the context finished is settled')
  t.same(j.list({ pending: true }).map((e) => e.key), ['"q1"'])
  j.close()
})

t.test('card hashes go 24 h after the finish; entries after the retention period', async (t) => {
  let now = 1_700_000_000_000
  const j = Journal.open({ now: () => now, retentionDays: 7 })
  j.begin(payment('p1'))
  j.complete('till', '"p1"', accepted('p1'), { awaitingFinish: true })
  now += 48 * HOUR
  t.same(j.prune(), { redacted: 0, deleted: 0 }, 'not finished: kept (the shop may still need it)')
  j.begin({ context: 'till', key: '"f1"', command: 'finish_payment', fingerprint: '[]', request: {} })
  j.complete('till', '"f1"', { command: 'finish_payment', success: true }, { settles: true })
  now += CARD_HASH_KEEP_MS - 1
  t.same(j.prune(), { redacted: 0, deleted: 0 }, 'less than 24 h after the finish')
  now += 1
  t.same(j.prune(), { redacted: 1, deleted: 0 })
  const e = j.find('till', '"p1"')!
  t.match(e, { redacted: true, answer: { success: true, response: { status: 'accepted', card_hash: null, payment_method: 'credit_card' } } })
  t.notOk('card_holder_name' in (e.answer!.response as object), "the cardholder's name goes too")
  t.same(j.prune(), { redacted: 0, deleted: 0 }, 'once')
  now += 7 * 24 * HOUR
  t.same(j.prune(), { redacted: 0, deleted: 2 }, 'after the retention period')
  t.equal(j.find('till', '"p1"'), undefined)
  j.close()
})

t.test('list: newest first, by context, since, limit', async (t) => {
  let now = 1_700_000_000_000
  const j = Journal.open({ now: () => now })
  for (let i = 1; i <= 5; i++) {
    now += 1000
    j.begin({ ...payment(`p${i}`), context: i % 2 ? 'a' : 'b' })
  }
  t.same(j.list().map((e) => e.key), ['"p5"', '"p4"', '"p3"', '"p2"', '"p1"'])
  t.same(j.list({ context: 'b' }).map((e) => e.key), ['"p4"', '"p2"'])
  t.same(j.list({ since: 1_700_000_003_000 }).map((e) => e.key), ['"p5"', '"p4"', '"p3"'])
  t.same(j.list({ limit: 2 }).map((e) => e.key), ['"p5"', '"p4"'])
  j.close()
})

t.test('a journal from a newer bridge is refused, not rewritten', async (t) => {
  const d = await dir(t)
  Journal.open({ dir: d }).close()
  const db = new Database(path.join(d, JOURNAL_FILE))
  db.pragma('user_version = 99')
  db.close()
  t.throws(() => Journal.open({ dir: d }), { code: 'MPOS_ERR_JOURNAL', message: /newer than this bridge knows/ })
  t.throws(() => readJournal(d), { code: 'MPOS_ERR_JOURNAL' })
  Journal.open({ dir: await dir(t) }).close()
})

t.test('a journal of the second schema is migrated to a rowid table: every column of every entry kept', async (t) => {
  const d = await dir(t)
  // Version 2: commands WITHOUT ROWID (a whole row in the key's b-tree), plus pairings.
  const old = new Database(path.join(d, JOURNAL_FILE))
  old.exec(`CREATE TABLE commands (context TEXT NOT NULL, command_id TEXT NOT NULL, command TEXT NOT NULL, fingerprint TEXT NOT NULL, request TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'interrupted')), answer TEXT, awaiting_finish INTEGER NOT NULL DEFAULT 0, finished_at INTEGER,
    redacted INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (context, command_id)) WITHOUT ROWID;
    CREATE INDEX commands_by_time ON commands (created_at);
    CREATE INDEX commands_awaiting ON commands (awaiting_finish) WHERE awaiting_finish = 1;
    CREATE TABLE pairings (id INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, token_sha256 TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,
    last_used_at INTEGER, revoked_at INTEGER);`)
  const answer = JSON.stringify({ command: 'process_payment', success: true, response: { status: 'accepted', card_hash: 'h'.repeat(3000) } })
  const insert = old.prepare(`INSERT INTO commands (context, command_id, command, fingerprint, request, state, answer, awaiting_finish, finished_at, redacted, created_at, updated_at)
    VALUES (?, ?, ?, '[]', '{"amount":1000}', ?, ?, ?, ?, ?, ?, ?)`)
  insert.run('till', '"p1"', 'process_payment', 'done', answer, 1, null, 0, 10, 11)
  insert.run('till', '"p0"', 'process_payment', 'done', answer, 0, 9, 1, 5, 9)
  insert.run('other', '"i1"', 'initialize', 'interrupted', null, 0, null, 0, 7, 8)
  old.prepare("INSERT INTO pairings (origin, token_sha256, created_at) VALUES ('http://localhost:5173', ?, 3)").run('cd'.repeat(32))
  old.pragma('user_version = 2')
  old.close()

  const j = Journal.open({ dir: d, now: () => 1_000 })
  t.match(j.find('till', '"p1"'), { state: 'done', answer: JSON.parse(answer), awaitingFinish: true, redacted: false, createdAt: 10, updatedAt: 11 })
  t.match(j.find('till', '"p0"'), { awaitingFinish: false, redacted: true, createdAt: 5 })
  t.match(j.find('other', '"i1"'), { command: 'initialize', state: 'interrupted', createdAt: 7, updatedAt: 8 })
  t.same(j.awaitingFinish().map((e) => e.key), ['"p1"'], 'the partial index of pending payments is back')
  t.same(j.list().map((e) => e.key), ['"p1"', '"i1"', '"p0"'], 'newest first, by the time index')
  t.equal(j.pairings.list().length, 1, 'the pairings are untouched')
  t.throws(() => j.begin({ context: 'till', key: '"p1"', command: 'process_payment', fingerprint: '[]', request: {} }), 'the key is still unique')
  j.close()

  const db = new Database(path.join(d, JOURNAL_FILE), { readonly: true })
  const table = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'commands'").get() as { sql: string }
  t.notMatch(table.sql, /WITHOUT ROWID/, 'commands is a rowid table')
  t.same((db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'commands' AND sql IS NOT NULL ORDER BY name").all() as { name: string }[]).map((r) => r.name), ['commands_awaiting', 'commands_by_time'])
  t.equal(db.pragma('user_version', { simple: true }), 3)
  db.close()
})

t.test('a journal of the first schema is migrated: its commands kept, the pairings table added', async (t) => {
  const d = await dir(t)
  // Version 1, as the bridge before pairing made it.
  const old = new Database(path.join(d, JOURNAL_FILE))
  old.exec(`CREATE TABLE commands (context TEXT NOT NULL, command_id TEXT NOT NULL, command TEXT NOT NULL, fingerprint TEXT NOT NULL, request TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'interrupted')), answer TEXT, awaiting_finish INTEGER NOT NULL DEFAULT 0, finished_at INTEGER,
    redacted INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (context, command_id)) WITHOUT ROWID;
    CREATE INDEX commands_by_time ON commands (created_at);
    CREATE INDEX commands_awaiting ON commands (awaiting_finish) WHERE awaiting_finish = 1;`)
  old.prepare("INSERT INTO commands (context, command_id, command, fingerprint, request, state, created_at, updated_at) VALUES ('till', '\"p1\"', 'process_payment', '[]', '{}', 'done', 1, 1)").run()
  old.pragma('user_version = 1')
  old.close()
  let now = 1_700_000_000_000
  const j = Journal.open({ dir: d, now: () => now })
  t.equal(j.find('till', '"p1"')?.state, 'done', 'the command is kept')
  const id = j.pairings.add('http://localhost:5173', 'ab'.repeat(32))
  now += 1000
  j.pairings.touch(id)
  t.same(j.pairings.list(), [{ id, origin: 'http://localhost:5173', createdAt: 1_700_000_000_000, lastUsedAt: 1_700_000_001_000 }])
  t.equal(j.pairings.revoke(id), true)
  t.equal(j.pairings.revoke(id), false, 'once')
  t.match(j.pairings.byTokenHash('ab'.repeat(32)), { id, revokedAt: 1_700_000_001_000 })
  j.close()
  const reader = readJournal(d)!
  t.equal(reader.pairings.list().length, 1, 'the read-only reader knows the new schema')
  reader.close()
})
