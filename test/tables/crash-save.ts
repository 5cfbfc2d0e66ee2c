/**
 * Run as a child process by store.test.ts: saves tables and dies (SIGKILL) after the temp file is
 * written and synced but before the rename, as a power cut or a killed service would.
 * argv: dataDir encryptionKey pinpadModel version
 */
import { TablesStore } from '../../src/tables/store.js'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'

const [dataDir, key, model, version] = process.argv.slice(2) as [string, string, string, string]
const store = new TablesStore(dataDir, {
  beforeRename: () => {
    process.kill(process.pid, 'SIGKILL')
  },
})
await store.save(key, model, { ...DEFAULT_TABLES, version })
