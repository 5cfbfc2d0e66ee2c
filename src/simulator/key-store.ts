/**
 * The keys injected in the virtual pinpad (§5.1): master keys (MK/WK, TDES) and DUKPT:TDES
 * registers, for PIN and for data, each at an index "00"–"99". A key map (PP_MKTDESP…, §3.1.3.2)
 * says per index "1" loaded, "0" absent, "2" not supported; the pinpad supports the first
 * `positions` indexes. DES keys are never loaded (obsolete, §5.1; gone in 2.20).
 */
import { DukptKeyStore, parseKsn } from '../crypto/dukpt.js'
import { tdesDecryptEcb } from '../crypto/des.js'
import { ST } from '../abecs/return-codes.js'

export type KeyKind = 'MK:DES:PIN' | 'MK:DES:DAT' | 'MK:TDES:PIN' | 'MK:TDES:DAT' | 'DUKPT:DES:PIN' | 'DUKPT:TDES:PIN' | 'DUKPT:TDES:DAT'

/** The PP_* key map of each kind, in §3.1.3.2 order (8030h–8036h). */
export const KEY_MAP_ITEMS: ReadonlyArray<[string, KeyKind]> = [
  ['PP_MKDESP', 'MK:DES:PIN'],
  ['PP_MKDESD', 'MK:DES:DAT'],
  ['PP_MKTDESP', 'MK:TDES:PIN'],
  ['PP_MKTDESD', 'MK:TDES:DAT'],
  ['PP_DKPTDESP', 'DUKPT:DES:PIN'],
  ['PP_DKPTTDESP', 'DUKPT:TDES:PIN'],
  ['PP_DKPTTDESD', 'DUKPT:TDES:DAT'],
]

export interface DukptSlot {
  /** Base derivation key, hex (test keys only). */
  bdk: string
  /** Initial KSN, hex; each use advances its counter. */
  ksn: string
}

/** Key slots as configured at start (`simulate --keys FILE`, docs in README). Indexes are "00"–"99". */
export interface KeySlotsConfig {
  /** Indexes 00 … positions−1 exist in this pinpad (default 10, at least 32 in a 2.1x one, §6.1.2). */
  positions?: number
  'MK:TDES:PIN'?: Record<string, string>
  'MK:TDES:DAT'?: Record<string, string>
  'DUKPT:TDES:PIN'?: Record<string, DukptSlot>
  'DUKPT:TDES:DAT'?: Record<string, DukptSlot>
}

export type KeyLookup<T> = { key: T } | { status: number }

const index = (s: string) => {
  if (!/^\d{2}$/.test(s)) throw new Error(`key index "${s}" is not two digits`)
  return Number(s)
}

export class KeyStore {
  readonly positions: number
  readonly #mk = { 'MK:TDES:PIN': new Map<number, Buffer>(), 'MK:TDES:DAT': new Map<number, Buffer>() }
  readonly #dukpt = { 'DUKPT:TDES:PIN': new Map<number, DukptKeyStore>(), 'DUKPT:TDES:DAT': new Map<number, DukptKeyStore>() }

  constructor(config: KeySlotsConfig = {}) {
    this.positions = config.positions ?? 10
    for (const kind of ['MK:TDES:PIN', 'MK:TDES:DAT'] as const) {
      for (const [i, hex] of Object.entries(config[kind] ?? {})) {
        const key = Buffer.from(hex, 'hex')
        if (key.length !== 16) throw new Error(`${kind} ${i}: a TDES master key has 16 bytes`)
        this.#mk[kind].set(index(i), key)
      }
    }
    for (const kind of ['DUKPT:TDES:PIN', 'DUKPT:TDES:DAT'] as const) {
      for (const [i, slot] of Object.entries(config[kind] ?? {})) this.addDukpt(kind, index(i), slot)
    }
  }

  addDukpt(kind: 'DUKPT:TDES:PIN' | 'DUKPT:TDES:DAT', i: number, slot: DukptSlot): void {
    this.#dukpt[kind].set(i, new DukptKeyStore(Buffer.from(slot.bdk, 'hex'), parseKsn(slot.ksn)))
  }

  loaded(kind: KeyKind): number[] {
    const map = kind in this.#mk ? this.#mk[kind as 'MK:TDES:PIN'] : kind in this.#dukpt ? this.#dukpt[kind as 'DUKPT:TDES:PIN'] : undefined
    return map ? [...map.keys()].sort((a, b) => a - b) : []
  }

  /** A100 map: "1" loaded, "0" absent, "2" not supported (§3.1.3.2). */
  keyMap(kind: KeyKind): string {
    const loaded = new Set(this.loaded(kind))
    let map = ''
    for (let i = 0; i < 100; i++) map += loaded.has(i) ? '1' : i < this.positions ? '0' : '2'
    return map
  }

  /** §6.5.x: an index outside the pinpad's range is ST_INVPARM, a key not loaded ST_ERRKEY. */
  #check(kind: KeyKind, i: number): number | undefined {
    const state = this.keyMap(kind)[i]
    if (state === undefined || state === '2') return ST.INVPARM
    return state === '1' ? undefined : ST.ERRKEY
  }

  /** The working key: WKENC decrypted under the TDES master key (MK/WK, §5.1). */
  workingKey(kind: 'MK:TDES:PIN' | 'MK:TDES:DAT', i: number, wkenc: Buffer | undefined): KeyLookup<Buffer> {
    const status = this.#check(kind, i)
    if (status !== undefined) return { status }
    if (!wkenc || wkenc.length !== 16) return { status: ST.INVPARM }
    return { key: tdesDecryptEcb(this.#mk[kind].get(i)!, wkenc) }
  }

  /** The master key itself (DWK modality 1 and ENB decrypt WKPAN / WK with it). */
  masterKey(kind: 'MK:TDES:PIN' | 'MK:TDES:DAT', i: number): KeyLookup<Buffer> {
    const status = this.#check(kind, i)
    return status !== undefined ? { status } : { key: this.#mk[kind].get(i)! }
  }

  dukpt(kind: 'DUKPT:TDES:PIN' | 'DUKPT:TDES:DAT', i: number): KeyLookup<DukptKeyStore> {
    const status = this.#check(kind, i)
    return status !== undefined ? { status } : { key: this.#dukpt[kind].get(i)! }
  }

  /** Status of any kind (DES kinds are never loaded). */
  status(kind: KeyKind, i: number): number {
    return this.#check(kind, i) ?? ST.OK
  }
}
