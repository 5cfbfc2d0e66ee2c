/**
 * The payment journal: every money command that carries a `command_id` — its request (secrets
 * removed), its state and the answer exactly as sent — in one SQLite file of the data directory
 * (better-sqlite3, WAL). The only module with SQL in it, with pairings.ts (the pairing tokens,
 * a table of the same database).
 *
 * Never stored: a card number, a track, a PIN block, a key. The card hash and the cardholder's name
 * stay in a payment's answer only while they may be needed: they are removed 24 hours after the
 * payment's finish (`prune`), and whole entries after the retention period.
 *
 * One bridge per data directory: `journal.lock`, a second SQLite file held in an exclusive
 * transaction for the process's life, is the lock. The operating system lets go of it when the
 * process ends in any way (SIGKILL included), so a crash never leaves a stale lock behind.
 */
import Database from 'better-sqlite3'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { DataDirLockedError, JournalOpenError } from '../errors.js'
import { PAIRINGS_MIGRATION, PairingTable } from './pairings.js'

export const JOURNAL_FILE = 'journal.sqlite'
export const LOCK_FILE = 'journal.lock'
export const DEFAULT_RETENTION_DAYS = 7
/** How long a finished payment's answer keeps its card hash (a replay after that gets `card_hash: null`). */
export const CARD_HASH_KEEP_MS = 24 * 3600_000

export type EntryState = 'running' | 'done' | 'interrupted'

export interface Entry {
  context: string
  /** The client's command_id as JSON text (`"a1"` and `1` are different ids). */
  key: string
  command: string
  /** The command and its money fields: a retry must match it. */
  fingerprint: string
  /** The request as received, secrets masked. */
  request: Record<string, unknown>
  state: EntryState
  /** The answer exactly as sent (state `done`). */
  answer?: Record<string, unknown>
  /** A payment that produced a card hash and has had no finish_payment (nor cancel/close) yet. */
  awaitingFinish: boolean
  /** The card hash was removed from the answer (older than 24 hours after its finish). */
  redacted: boolean
  createdAt: number
  updatedAt: number
}

export interface JournalOptions {
  /** The data directory; without it the journal lives in memory (tests, `--no-journal`). */
  dir?: string
  now?: () => number
  retentionDays?: number
}

export interface ListOptions {
  context?: string
  since?: number
  pending?: boolean
  limit?: number
}

/** Each step brings the schema from version i to i + 1 (PRAGMA user_version). */
const MIGRATIONS = [
  `CREATE TABLE commands (
     context TEXT NOT NULL,
     command_id TEXT NOT NULL,
     command TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     request TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('running', 'done', 'interrupted')),
     answer TEXT,
     awaiting_finish INTEGER NOT NULL DEFAULT 0,
     finished_at INTEGER,
     redacted INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (context, command_id)
   ) WITHOUT ROWID;
   CREATE INDEX commands_by_time ON commands (created_at);
   CREATE INDEX commands_awaiting ON commands (awaiting_finish) WHERE awaiting_finish = 1;`,
  PAIRINGS_MIGRATION,
  // A rowid table: WITHOUT ROWID keeps each whole row in the primary key's b-tree, and SQLite reads
  // a cell's overflow pages to compare keys, so every seek (each INSERT, UPDATE, find) read the
  // card-hash answers (over 1 KiB, on overflow pages) of the rows on its way.
  `CREATE TABLE commands_v3 (
     context TEXT NOT NULL,
     command_id TEXT NOT NULL,
     command TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     request TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('running', 'done', 'interrupted')),
     answer TEXT,
     awaiting_finish INTEGER NOT NULL DEFAULT 0,
     finished_at INTEGER,
     redacted INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (context, command_id)
   );
   INSERT INTO commands_v3 SELECT * FROM commands ORDER BY created_at;
   DROP TABLE commands;
   ALTER TABLE commands_v3 RENAME TO commands;
   CREATE INDEX commands_by_time ON commands (created_at);
   CREATE INDEX commands_awaiting ON commands (awaiting_finish) WHERE awaiting_finish = 1;`,
]

interface Row {
  context: string
  command_id: string
  command: string
  fingerprint: string
  request: string
  state: EntryState
  answer: string | null
  awaiting_finish: number
  redacted: number
  created_at: number
  updated_at: number
}

const toEntry = (r: Row): Entry => ({
  context: r.context,
  key: r.command_id,
  command: r.command,
  fingerprint: r.fingerprint,
  request: JSON.parse(r.request) as Record<string, unknown>,
  state: r.state,
  ...(r.answer !== null ? { answer: JSON.parse(r.answer) as Record<string, unknown> } : {}),
  awaitingFinish: r.awaiting_finish === 1,
  redacted: r.redacted === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

/** A payment answer without what must not outlive its need: the card hash and the cardholder's name. */
export function redactAnswer(answer: Record<string, unknown>): Record<string, unknown> {
  const response = answer.response as Record<string, unknown> | undefined
  if (!response || typeof response !== 'object') return answer
  const { card_holder_name: _, ...rest } = response
  return { ...answer, response: { ...rest, card_hash: null } }
}

function lockDataDir(dir: string): Database.Database {
  const lock = new Database(join(dir, LOCK_FILE), { timeout: 0 })
  try {
    lock.pragma('locking_mode = EXCLUSIVE')
    lock.exec('BEGIN EXCLUSIVE')
    return lock
  } catch (err) {
    lock.close()
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirLockedError(dir)
    throw err
  }
}

export class Journal {
  readonly file: string
  readonly #db: Database.Database
  readonly #lock: Database.Database | undefined
  readonly #now: () => number
  readonly retentionMs: number
  readonly #q: ReturnType<Journal['prepare']>
  /** The pairing tokens (hashed), in the same database. */
  readonly pairings: PairingTable
  #closed = false

  private constructor(file: string, db: Database.Database, lock: Database.Database | undefined, options: JournalOptions) {
    this.file = file
    this.#db = db
    this.#lock = lock
    this.#now = options.now ?? Date.now
    this.retentionMs = (options.retentionDays ?? DEFAULT_RETENTION_DAYS) * 24 * 3600_000
    this.#q = this.prepare()
    this.pairings = new PairingTable(db, this.#now)
  }

  /** Opens (creating or migrating) the journal; refuses a data directory another bridge holds. */
  static open(options: JournalOptions = {}): Journal {
    if (!options.dir) return Journal.#setUp(':memory:', new Database(':memory:'), undefined, options)
    mkdirSync(options.dir, { recursive: true })
    const lock = lockDataDir(options.dir)
    const file = join(options.dir, JOURNAL_FILE)
    try {
      return Journal.#setUp(file, new Database(file, { timeout: 5000 }), lock, options)
    } catch (err) {
      lock.close()
      if (err instanceof DataDirLockedError) throw err
      throw new JournalOpenError(file, (err as Error).message)
    }
  }

  /** See readJournal(). */
  static openReadOnly(file: string, now: () => number): Journal | undefined {
    if (!existsSync(file)) return undefined
    const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 })
    const version = db.pragma('user_version', { simple: true }) as number
    if (version !== MIGRATIONS.length) {
      db.close()
      throw new JournalOpenError(file, `its schema is version ${version}, this bridge reads version ${MIGRATIONS.length}`)
    }
    return new Journal(file, db, undefined, { now })
  }

  static #setUp(file: string, db: Database.Database, lock: Database.Database | undefined, options: JournalOptions): Journal {
    try {
      db.pragma('journal_mode = WAL')
      // NORMAL in WAL: a power cut may lose the last commits, never corrupt the file.
      db.pragma('synchronous = NORMAL')
      const version = db.pragma('user_version', { simple: true }) as number
      if (version > MIGRATIONS.length) throw new Error(`its schema (version ${version}) is newer than this bridge knows (${MIGRATIONS.length})`)
      // Up to date (every start but the first): no write transaction.
      if (version < MIGRATIONS.length)
        db.transaction(() => {
          for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!)
          db.pragma(`user_version = ${MIGRATIONS.length}`)
        })()
      return new Journal(file, db, lock, options)
    } catch (err) {
      db.close()
      throw err
    }
  }

  private prepare() {
    const db = this.#db
    return {
      find: db.prepare<[string, string], Row>('SELECT * FROM commands WHERE context = ? AND command_id = ?'),
      begin: db.prepare(
        `INSERT INTO commands (context, command_id, command, fingerprint, request, state, created_at, updated_at)
         VALUES (@context, @key, @command, @fingerprint, @request, 'running', @now, @now)`,
      ),
      beginIfNew: db.prepare(
        `INSERT INTO commands (context, command_id, command, fingerprint, request, state, created_at, updated_at)
         VALUES (@context, @key, @command, @fingerprint, @request, 'running', @now, @now)
         ON CONFLICT (context, command_id) DO NOTHING`,
      ),
      restart: db.prepare(
        `INSERT OR REPLACE INTO commands (context, command_id, command, fingerprint, request, state, created_at, updated_at)
         VALUES (@context, @key, @command, @fingerprint, @request, 'running', @now, @now)`,
      ),
      complete: db.prepare(
        `UPDATE commands SET state = 'done', answer = @answer, awaiting_finish = @awaiting, updated_at = @now
         WHERE context = @context AND command_id = @key AND state = 'running'`,
      ),
      settle: db.prepare('UPDATE commands SET awaiting_finish = 0, finished_at = @now WHERE context = @context AND awaiting_finish = 1'),
      interrupt: db.prepare("UPDATE commands SET state = 'interrupted', updated_at = ? WHERE state = 'running'"),
      pending: db.prepare<[], Row>('SELECT * FROM commands WHERE awaiting_finish = 1 ORDER BY created_at'),
      toRedact: db.prepare<[number], Row>(
        "SELECT * FROM commands WHERE command = 'process_payment' AND redacted = 0 AND answer IS NOT NULL AND finished_at IS NOT NULL AND finished_at <= ?",
      ),
      redact: db.prepare('UPDATE commands SET answer = @answer, redacted = 1 WHERE context = @context AND command_id = @key'),
      prune: db.prepare('DELETE FROM commands WHERE created_at < ? AND state != \'running\''),
    }
  }

  /** The journal's clock. */
  now(): number {
    return this.#now()
  }

  find(context: string, key: string): Entry | undefined {
    const row = this.#q.find.get(context, key)
    return row ? toEntry(row) : undefined
  }

  /** Records a command as it starts. */
  begin(e: Pick<Entry, 'context' | 'key' | 'command' | 'fingerprint' | 'request'>): void {
    this.#q.begin.run({ context: e.context, key: e.key, command: e.command, fingerprint: e.fingerprint, request: JSON.stringify(e.request), now: this.#now() })
  }

  /**
   * begin() unless the key is taken: undefined when it recorded the command, else the entry already
   * there (as find() gives it). The usual new command costs one statement instead of a SELECT + INSERT.
   */
  beginIfNew(e: Pick<Entry, 'context' | 'key' | 'command' | 'fingerprint' | 'request'>, now = this.#now()): Entry | undefined {
    const r = this.#q.beginIfNew.run({ context: e.context, key: e.key, command: e.command, fingerprint: e.fingerprint, request: JSON.stringify(e.request), now })
    return r.changes === 1 ? undefined : this.find(e.context, e.key)
  }

  /** Records a command as it starts again under a command_id it had in an earlier run (see the gate). */
  restart(e: Pick<Entry, 'context' | 'key' | 'command' | 'fingerprint' | 'request'>, now = this.#now()): void {
    this.#q.restart.run({ context: e.context, key: e.key, command: e.command, fingerprint: e.fingerprint, request: JSON.stringify(e.request), now })
  }

  /**
   * Records a command's answer. `awaitingFinish`: a payment that produced a card hash; `settles`:
   * the answer ends the context's pending payment (finish_payment, cancel or close succeeded).
   */
  complete(context: string, key: string, answer: Record<string, unknown>, flags: { awaitingFinish?: boolean; settles?: boolean } = {}): void {
    const now = this.#now()
    const record = { context, key, answer: JSON.stringify(answer), awaiting: flags.awaitingFinish ? 1 : 0, now }
    // One statement commits alone; the BEGIN/COMMIT pair is for the two that must go together.
    if (!flags.settles) {
      this.#q.complete.run(record)
      return
    }
    this.#db.transaction(() => {
      this.#q.settle.run({ context, now })
      this.#q.complete.run(record)
    })()
  }

  /** At start: what was running when the last process ended never answered. Returns how many. */
  interruptRunning(): number {
    return this.#q.interrupt.run(this.#now()).changes
  }

  /** Payments with a card hash that have had no finish_payment yet. */
  awaitingFinish(context?: string): Entry[] {
    const all = this.#q.pending.all().map(toEntry)
    return context === undefined ? all : all.filter((e) => e.context === context)
  }

  /** Removes card hashes 24 h after their finish and entries past the retention period. */
  prune(): { redacted: number; deleted: number } {
    const now = this.#now()
    return this.#db.transaction(() => {
      const rows = this.#q.toRedact.all(now - CARD_HASH_KEEP_MS)
      for (const r of rows) this.#q.redact.run({ context: r.context, key: r.command_id, answer: JSON.stringify(redactAnswer(JSON.parse(r.answer!) as Record<string, unknown>)) })
      const deleted = this.#q.prune.run(now - this.retentionMs).changes
      return { redacted: rows.length, deleted }
    })()
  }

  /** Recent entries, newest first (the CLI's `journal`). */
  list(options: ListOptions = {}): Entry[] {
    const where: string[] = []
    const params: Record<string, unknown> = { limit: options.limit ?? 100 }
    if (options.context !== undefined) {
      where.push('context = @context')
      params.context = options.context
    }
    if (options.since !== undefined) {
      where.push('created_at >= @since')
      params.since = options.since
    }
    if (options.pending) where.push('awaiting_finish = 1')
    const sql = `SELECT * FROM commands ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, command_id LIMIT @limit`
    return this.#db.prepare<Record<string, unknown>, Row>(sql).all(params).map(toEntry)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#db.close()
    this.#lock?.close()
  }
}

/**
 * Opens a data directory's journal to read it while a bridge may be running on it (the CLI's
 * `journal`): read-only, no lock taken, nothing migrated. Undefined when there is none yet.
 */
export function readJournal(dir: string, now: () => number = Date.now): Journal | undefined {
  return Journal.openReadOnly(join(dir, JOURNAL_FILE), now)
}
