/**
 * The pairing tokens of the bridge (README "Pairing"), a table of the journal's SQLite database:
 * for each paired page its Origin, the SHA-256 of its token (never the token), when it was paired,
 * last used and revoked. Revoked rows stay, so a revoked token is told apart from an unknown one.
 */
import type Database from 'better-sqlite3'

/** Migration of the journal's schema (version 1 → 2): see MIGRATIONS in store.ts. */
export const PAIRINGS_MIGRATION = `CREATE TABLE pairings (
   id INTEGER PRIMARY KEY AUTOINCREMENT,
   origin TEXT NOT NULL,
   token_sha256 TEXT NOT NULL UNIQUE,
   created_at INTEGER NOT NULL,
   last_used_at INTEGER,
   revoked_at INTEGER
 );`

export interface PairingRecord {
  id: number
  origin: string
  createdAt: number
  lastUsedAt?: number
  revokedAt?: number
}

interface Row {
  id: number
  origin: string
  created_at: number
  last_used_at: number | null
  revoked_at: number | null
}

const toRecord = (r: Row): PairingRecord => ({
  id: r.id,
  origin: r.origin,
  createdAt: r.created_at,
  ...(r.last_used_at !== null ? { lastUsedAt: r.last_used_at } : {}),
  ...(r.revoked_at !== null ? { revokedAt: r.revoked_at } : {}),
})

export class PairingTable {
  readonly #q

  constructor(
    db: Database.Database,
    readonly now: () => number,
  ) {
    this.#q = {
      add: db.prepare('INSERT INTO pairings (origin, token_sha256, created_at) VALUES (?, ?, ?)'),
      byHash: db.prepare<[string], Row>('SELECT id, origin, created_at, last_used_at, revoked_at FROM pairings WHERE token_sha256 = ?'),
      byId: db.prepare<[number], Row>('SELECT id, origin, created_at, last_used_at, revoked_at FROM pairings WHERE id = ?'),
      touch: db.prepare('UPDATE pairings SET last_used_at = ? WHERE id = ?'),
      revoke: db.prepare('UPDATE pairings SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      list: db.prepare<[], Row>('SELECT id, origin, created_at, last_used_at, revoked_at FROM pairings ORDER BY id'),
    }
  }

  /** Records a new pairing; its id. */
  add(origin: string, tokenSha256: string): number {
    return Number(this.#q.add.run(origin, tokenSha256, this.now()).lastInsertRowid)
  }

  byTokenHash(tokenSha256: string): PairingRecord | undefined {
    const row = this.#q.byHash.get(tokenSha256)
    return row ? toRecord(row) : undefined
  }

  byId(id: number): PairingRecord | undefined {
    const row = this.#q.byId.get(id)
    return row ? toRecord(row) : undefined
  }

  touch(id: number): void {
    this.#q.touch.run(this.now(), id)
  }

  /** True when it was live and is now revoked. */
  revoke(id: number): boolean {
    return this.#q.revoke.run(this.now(), id).changes === 1
  }

  /** Every pairing, oldest first; revoked ones too (`revokedAt`). */
  list(): PairingRecord[] {
    return this.#q.list.all().map(toRecord)
  }
}
