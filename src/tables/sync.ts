/**
 * Table sync at initialize: ask the acquirer for updates against the stored version, keep what
 * it sends, and fall back to the stored tables when the acquirer cannot be reached (a till whose
 * internet link drops can still take cards its tables already know).
 */
import type { TablesStore } from './store.js'
import type { EmvTables, TablesSource } from './types.js'
import { AcquirerTimeoutError, AcquirerUnavailableError, AcquirerUnreachableError, TablesMissingError } from '../errors.js'

export interface SyncTablesOptions {
  client: TablesSource
  store: TablesStore
  encryptionKey: string
  pinpadModel: string
  /** DUKPT key indexes the pinpad holds (`dukpt_keys`). */
  dukptKeys: readonly number[]
  signal?: AbortSignal
  /** Use the stored tables when the acquirer is unreachable, times out or answers 5xx. Default true. */
  offlineFallback?: boolean
}

export interface SyncTablesResult {
  tables: EmvTables
  version: string
  /** `acquirer`: new tables were downloaded and stored; `store`: the stored ones are current (or the acquirer was unreachable). */
  source: 'acquirer' | 'store'
  /** The version differs from what was stored before. */
  changed: boolean
  /** The acquirer could not be asked; the stored tables may be out of date. */
  stale: boolean
}

/** The acquirer could not be asked (as opposed to refusing): the stored tables may serve. */
const unreachable = (err: unknown) =>
  err instanceof AcquirerUnreachableError || err instanceof AcquirerTimeoutError || err instanceof AcquirerUnavailableError

export async function syncTables(options: SyncTablesOptions): Promise<SyncTablesResult> {
  const { client, store, encryptionKey, pinpadModel, dukptKeys, signal, offlineFallback = true } = options
  const stored = await store.load(encryptionKey, pinpadModel)
  let updates
  try {
    updates = await client.getTerminalUpdates(encryptionKey, { checksum: stored?.version ?? '', dukptKeys, signal })
  } catch (err) {
    if (stored && offlineFallback && unreachable(err)) {
      return { tables: stored.tables, version: stored.version, source: 'store', changed: false, stale: true }
    }
    throw err
  }
  if (updates.upToDate) {
    if (!stored) throw new TablesMissingError()
    return { tables: stored.tables, version: stored.version, source: 'store', changed: false, stale: false }
  }
  const saved = await store.save(encryptionKey, pinpadModel, updates.tables)
  return { tables: saved.tables, version: saved.version, source: 'acquirer', changed: saved.version !== stored?.version, stale: false }
}
