/**
 * EMV tables kept in the data directory, one file per (encryption key, pinpad model), so a restart
 * does not download them again and a pinpad is reloaded only when the version changes.
 *
 * Why a JSON file replaced by rename rather than SQLite (which the original used): the data is a
 * few tens of kB, read whole at initialize and rewritten only when the acquirer sends a new
 * version; Node 20 has no built-in SQLite and a native module (better-sqlite3) means prebuilt
 * binaries per OS/arch at install time on every shop PC. rename() within one directory is atomic
 * on POSIX and on Windows (MoveFileEx with replace), so readers see the old file or the new one,
 * never a mix; the temp file is fsynced first so a power cut cannot leave an empty new file.
 *
 * File names are a SHA-256 of the encryption key and model: the key itself is never written.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { ValidateFunction } from 'ajv'
import { EMV_TABLES_SCHEMA, emvTablesValidator, schemaErrors, tablesAjv } from './schema.js'
import type { EmvTables } from './types.js'
import { TablesStoreError } from '../errors.js'
import { systemClock, type Clock } from '../clock.js'

export interface StoredTables {
  version: string
  tables: EmvTables
  pinpadModel: string
  /** ISO 8601. */
  savedAt: string
}

export interface StoreLogger {
  warn(obj: object, msg?: string): void
}

export interface TablesStoreOptions {
  logger?: StoreLogger
  /** Fault injection for tests: runs after the temp file is written and synced, before rename. */
  beforeRename?: (tempPath: string) => void | Promise<void>
  /** The clock `saved_at` is read from (default: the real one). */
  clock?: Clock
}

/** Bumped when the file layout changes; older layouts are ignored (the tables are downloaded again). */
const FORMAT = 1

interface StoreFile {
  format: number
  pinpad_model: string
  saved_at: string
  tables: EmvTables
}

const STORE_FILE_SCHEMA = {
  type: 'object',
  required: ['format', 'pinpad_model', 'saved_at', 'tables'],
  properties: {
    format: { const: FORMAT },
    pinpad_model: { type: 'string' },
    saved_at: { type: 'string' },
    tables: { $ref: EMV_TABLES_SCHEMA.$id },
  },
} as const

let validateStoreFile: ValidateFunction<StoreFile> | undefined
// The tables' schema first: the store file's refers to it by $id.
const validator = () => {
  if (!validateStoreFile) {
    emvTablesValidator()
    validateStoreFile = tablesAjv().compile<StoreFile>(STORE_FILE_SCHEMA)
  }
  return validateStoreFile
}

/** Temp files older than this are leftovers of a crash and are removed on the next save. */
const STALE_TEMP_MS = 60_000

export class TablesStore {
  readonly dir: string
  readonly #options: TablesStoreOptions
  /** Saves to one file run one after the other. */
  readonly #queue = new Map<string, Promise<unknown>>()

  constructor(dataDir: string, options: TablesStoreOptions = {}) {
    this.dir = path.join(dataDir, 'emv-tables')
    this.#options = options
  }

  /** The file for this key and model (the name is a hash: the key is not recoverable from it). */
  fileFor(encryptionKey: string, pinpadModel: string): string {
    const id = createHash('sha256').update(`mpos-bridge emv-tables\0${encryptionKey}\0${pinpadModel}`).digest('hex')
    return path.join(this.dir, `${id.slice(0, 40)}.json`)
  }

  /** The stored tables, or undefined when there are none or the file is unreadable (then sync downloads again). */
  async load(encryptionKey: string, pinpadModel: string): Promise<StoredTables | undefined> {
    const file = this.fileFor(encryptionKey, pinpadModel)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new TablesStoreError(`cannot read ${path.basename(file)}`, { cause: err })
    }
    let data: unknown
    try {
      data = JSON.parse(text)
    } catch {
      this.#options.logger?.warn({ file: path.basename(file) }, 'EMV tables store is not JSON; ignoring it')
      return undefined
    }
    const validate = validator()
    if (!validate(data) || data.pinpad_model !== pinpadModel) {
      const reason = validate.errors ? schemaErrors(validate, 'store') : 'pinpad model differs'
      this.#options.logger?.warn({ file: path.basename(file), reason }, 'EMV tables store is not usable; ignoring it')
      return undefined
    }
    return { version: data.tables.version, tables: data.tables, pinpadModel: data.pinpad_model, savedAt: data.saved_at }
  }

  /** The stored version, sent as `checksum` to `GET /terminal/updates`. */
  async version(encryptionKey: string, pinpadModel: string): Promise<string | undefined> {
    return (await this.load(encryptionKey, pinpadModel))?.version
  }

  /** Replaces the stored tables atomically (temp file, fsync, rename, fsync of the directory). */
  async save(encryptionKey: string, pinpadModel: string, tables: EmvTables): Promise<StoredTables> {
    const file = this.fileFor(encryptionKey, pinpadModel)
    const previous = this.#queue.get(file) ?? Promise.resolve()
    const run = previous.catch(() => {}).then(() => this.#write(file, pinpadModel, tables))
    this.#queue.set(file, run)
    try {
      return await run
    } finally {
      if (this.#queue.get(file) === run) this.#queue.delete(file)
    }
  }

  async remove(encryptionKey: string, pinpadModel: string): Promise<void> {
    await unlink(this.fileFor(encryptionKey, pinpadModel)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw new TablesStoreError('cannot remove the stored tables', { cause: err })
    })
  }

  async #write(file: string, pinpadModel: string, tables: EmvTables): Promise<StoredTables> {
    const savedAt = new Date((this.#options.clock ?? systemClock).now()).toISOString()
    const content: StoreFile = { format: FORMAT, pinpad_model: pinpadModel, saved_at: savedAt, tables }
    const base = path.basename(file)
    const temp = path.join(this.dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 })
      const fh = await open(temp, 'wx', 0o600)
      try {
        await fh.writeFile(JSON.stringify(content))
        await fh.sync()
      } finally {
        await fh.close()
      }
      await this.#options.beforeRename?.(temp)
      await rename(temp, file)
    } catch (err) {
      await unlink(temp).catch(() => {})
      throw new TablesStoreError(`cannot write ${base}`, { cause: err })
    }
    await syncDir(this.dir)
    await this.#sweep(base)
    return { version: tables.version, tables, pinpadModel, savedAt }
  }

  /** Removes temp files a crash left behind (old enough not to belong to a save in progress). */
  async #sweep(base: string): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[])
    for (const name of names) {
      if (!name.startsWith(`.${base}.`) || !name.endsWith('.tmp')) continue
      const p = path.join(this.dir, name)
      const info = await stat(p).catch(() => undefined)
      // Real time, not the injected clock: it is compared with the file system's modification time.
      if (info && Date.now() - info.mtimeMs > STALE_TEMP_MS) await unlink(p).catch(() => {})
    }
  }
}

/** Makes the rename itself durable; directories cannot be opened for fsync on Windows, so best effort. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch {
    // not supported on this platform
  }
}
