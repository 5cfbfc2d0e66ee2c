/**
 * The virtual pinpad's EMV tables (§4, §6.7): per acquirer index, with their version, loaded
 * through TLI/TLR/TLE into a temporary area and committed at TLE.
 */
import { decodeTableRecord, type AidRecord, type TableRecord } from '../abecs/tables.js'
import { ST } from '../abecs/return-codes.js'

const ZERO_VERSION = '0000000000'

interface TableSet {
  version: string
  records: TableRecord[]
}

export class TableMemory {
  /** Committed tables by TAB_ACQ. */
  #sets = new Map<number, TableSet>()
  /** The version of a unified load (TLI_ACQIDX "00", §4.2.1); undefined after a separate load. */
  #unified: string | undefined
  #loading: { acquirer: number; version: string; records: TableRecord[] } | undefined
  /** Preloaded records not decoded yet: decoded on the first look at the tables, not at start-up. */
  #preloaded: { version: string; records: Buffer[] } | undefined

  /** Loads a table set as if it came from the factory (unified management). */
  preload(version: string, records: Buffer[]): void {
    this.#sets.clear()
    this.#unified = version
    this.#preloaded = { version, records }
  }

  /** The committed tables, the preloaded ones decoded first. */
  get #committed(): Map<number, TableSet> {
    const preloaded = this.#preloaded
    if (preloaded) {
      this.#preloaded = undefined
      this.#commit(0, preloaded.version, preloaded.records.map((r) => decodeTableRecord(r)))
    }
    return this.#sets
  }

  /** A load at start, as TLI + TLR + TLE would make it (§6.7); undecodable records are skipped. */
  load(acquirer: number, version: string, records: Buffer[]): void {
    this.begin(acquirer, version)
    this.add(records)
    this.end()
  }

  clear(): void {
    this.#preloaded = undefined
    this.#sets.clear()
    this.#unified = undefined
  }

  /** GTS_TABVER / PP_TABVERnn (§3.5.1): zeros when nothing (or no unified version) is loaded. */
  version(acquirer: number): string {
    if (acquirer === 0) return this.#unified ?? ZERO_VERSION
    return this.#committed.get(acquirer)?.version ?? ZERO_VERSION
  }

  /** §6.7.2: always starts a load; 020 only informs that the version differs. */
  begin(acquirer: number, version: string): number {
    this.#loading = { acquirer, version, records: [] }
    return this.version(acquirer) === version ? ST.OK : ST.TABVERDIF
  }

  /** §6.7.3: invalid records and records of another acquirer are ignored, not errors. */
  add(records: Buffer[]): number {
    const loading = this.#loading
    if (!loading) return ST.INVCALL
    for (const raw of records) {
      let record: TableRecord
      try {
        record = decodeTableRecord(raw)
      } catch {
        continue
      }
      if (loading.acquirer !== 0 && record.TAB_ACQ !== loading.acquirer) continue
      loading.records.push(record)
    }
    return ST.OK
  }

  /** §6.7.4: replaces the acquirer's tables (all of them for "00"); no TLR means erase. */
  end(): number {
    const loading = this.#loading
    if (!loading) return ST.INVCALL
    this.#loading = undefined
    this.#commit(loading.acquirer, loading.version, loading.records)
    return ST.OK
  }

  #commit(acquirer: number, version: string, records: TableRecord[]): void {
    if (acquirer === 0) {
      this.#preloaded = undefined
      this.#sets.clear()
      for (const r of records) {
        const set = this.#sets.get(r.TAB_ACQ) ?? { version, records: [] }
        set.records.push(r)
        this.#sets.set(r.TAB_ACQ, set)
      }
      this.#unified = version
    } else {
      this.#committed.set(acquirer, { version, records })
      this.#unified = undefined
    }
  }

  get records(): TableRecord[] {
    return [...this.#committed.values()].flatMap((s) => s.records)
  }

  get aids(): AidRecord[] {
    return this.records.filter((r): r is AidRecord => r.TAB_ID === '1')
  }

  get count(): number {
    return this.records.length
  }
}
