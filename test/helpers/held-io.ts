/**
 * The real I/O of a BridgeRuntime, made visible to a ManualClock: the acquirer client's HTTP
 * exchanges and the EMV tables store's files hold the clock while they are pending, so that an
 * auto-advancing clock never runs ahead of them (./manual-clock.ts).
 */
import path from 'node:path'
import type { RuntimeOptions } from '../../src/bridge/runtime.js'
import { TablesStore, type StoredTables } from '../../src/tables/store.js'
import type { EmvTables } from '../../src/tables/types.js'
import { heldFetch, type ManualClock } from './manual-clock.js'

/** A TablesStore whose file operations hold the clock. */
export class HeldTablesStore extends TablesStore {
  constructor(
    dataDir: string,
    readonly clock: ManualClock,
  ) {
    super(dataDir, { clock })
  }

  override load(encryptionKey: string, pinpadModel: string): Promise<StoredTables | undefined> {
    return this.clock.holdDuring(super.load(encryptionKey, pinpadModel))
  }

  override save(encryptionKey: string, pinpadModel: string, tables: EmvTables): Promise<StoredTables> {
    return this.clock.holdDuring(super.save(encryptionKey, pinpadModel, tables))
  }

  override remove(encryptionKey: string, pinpadModel: string): Promise<void> {
    return this.clock.holdDuring(super.remove(encryptionKey, pinpadModel))
  }
}

/** Runtime options that put a runtime on `clock`, its real I/O held (`dataDir`: the runtime's). */
export function heldRuntime(clock: ManualClock, dataDir: string): Pick<RuntimeOptions, 'clock' | 'acquirer' | 'tablesStore'> {
  return { clock, acquirer: { fetch: heldFetch(clock) }, tablesStore: new HeldTablesStore(path.resolve(dataDir), clock) }
}
