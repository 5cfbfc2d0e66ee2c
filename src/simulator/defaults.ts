import { DEFAULT_TABLES } from '../tables/default-tables.js'
import { buildTableRecords } from '../tables/records.js'

/** The table set a virtual pinpad arrives with (the sandbox acquirer's default set, loaded as unified "00"). */
export function factoryTables(): { version: string; records: Buffer[] } {
  return { version: DEFAULT_TABLES.version, records: buildTableRecords(DEFAULT_TABLES) }
}
