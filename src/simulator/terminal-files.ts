/**
 * What `mpos-bridge simulate --tables FILE --keys FILE` loads at start (formats in the README).
 *
 * Tables: either one EMV table set in the acquirer's JSON shape (docs/emv-tables.md), loaded as a
 * unified set (TLI "00", §4.2.1), or a list of `{ "acquirer": nn, "tables": <set> }`, each loaded
 * apart under its own version (TLI nn, §4.2.2; 0 = unified). Keys: a KeySlotsConfig object.
 */
import { readFile } from 'node:fs/promises'
import { schemaErrors, validateEmvTables } from '../tables/schema.js'
import { aidLayoutFor, buildTableRecords } from '../tables/records.js'
import { KeyStore, type KeySlotsConfig } from './key-store.js'
import type { TableLoad } from './virtual-pinpad.js'
import { TerminalFileError } from '../errors.js'


function tablesOf(value: unknown, where: string) {
  if (!validateEmvTables(value)) throw new TerminalFileError(`${where}: ${schemaErrors(validateEmvTables, 'tables')}`)
  return value
}

export function parseTablesFile(json: unknown, specVersion: string): TableLoad[] {
  const layout = aidLayoutFor(specVersion)
  if (!Array.isArray(json)) {
    const tables = tablesOf(json, 'tables file')
    return [{ acquirer: 0, version: tables.version, records: buildTableRecords(tables, 0, layout) }]
  }
  return json.map((entry: unknown, i) => {
    const { acquirer, tables } = (entry ?? {}) as { acquirer?: unknown; tables?: unknown }
    if (!Number.isInteger(acquirer) || (acquirer as number) < 0 || (acquirer as number) > 99) {
      throw new TerminalFileError(`tables file [${i}]: "acquirer" must be an integer 0–99`)
    }
    const set = tablesOf(tables, `tables file [${i}]`)
    return { acquirer: acquirer as number, version: set.version, records: buildTableRecords(set, acquirer as number, layout) }
  })
}

export function parseKeysFile(json: unknown): KeySlotsConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new TerminalFileError('keys file: expected an object')
  const config = json as KeySlotsConfig
  const known = ['positions', 'MK:TDES:PIN', 'MK:TDES:DAT', 'DUKPT:TDES:PIN', 'DUKPT:TDES:DAT']
  const unknown = Object.keys(config).filter((k) => !known.includes(k))
  if (unknown.length) throw new TerminalFileError(`keys file: unknown entries ${unknown.join(', ')} (expected ${known.join(', ')})`)
  if (config.positions !== undefined && (!Number.isInteger(config.positions) || config.positions < 1 || config.positions > 100)) {
    throw new TerminalFileError('keys file: "positions" must be an integer 1–100')
  }
  try {
    new KeyStore(config) // checks every index and key
  } catch (err) {
    throw new TerminalFileError(`keys file: ${(err as Error).message}`)
  }
  return config
}

export async function readJsonFile(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new TerminalFileError(`${path}: ${(err as Error).message}`)
  }
}
