/**
 * The log scanner: finds card data in log lines. The suite's logs are captured (src/log.ts,
 * MPOS_BRIDGE_LOG_CAPTURE) and test/zz-log-scan.test.ts runs every captured line through this;
 * test/log-scan/scanner.test.ts proves it catches each kind of secret.
 *
 * What it looks for, in the text and in any Buffer pino printed as `{"type":"Buffer","data":[…]}`:
 * - the PAN of every virtual-pinpad test card and card-hash fixture, as digits anywhere (inside
 *   longer strings, BCD hex, with blanks or dashes between digits too);
 * - any track 2 (Luhn-valid PAN, `=`/`D`, YYMM) and track 1 (`B<PAN>^NAME^YYMM`);
 * - PIN blocks: the encrypted ISO-0 blocks the virtual pinpad makes under its default DUKPT keys
 *   (test BDK, KSN …E00000) for every test PAN and PIN over the first PIN entries, the clear
 *   blocks, the card-hash fixtures' blocks, and any PIN-block-like key with a 16-hex value;
 * - a card hash (`<id>_<base64>` of RSA output) or a long Base64 body;
 * - an encryption key not masked the way the code masks it (`ek_test_…Ll23`);
 * - card fields (card_number, card_track_2, PP_PAN…) with a value that is not redacted or masked;
 * - the test cardholders' names;
 * - what the tests have customers type for pinpad_input (GCD's clear data, test/fixtures/typed-values.ts);
 * - pairing secrets: a pairing token (`mpb_…`, or any long value of a `token` field), a pairing code
 *   (6 digits as a `code` field's value), the admin route's secret (`Bearer` and 64 hex digits).
 */
import { createReadStream } from 'node:fs'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { TEST_CARDS } from '../../src/simulator/cards.js'
import { DEFAULT_DUKPT } from '../../src/simulator/virtual-pinpad.js'
import { DukptKeyStore, parseKsn } from '../../src/crypto/dukpt.js'
import { buildIso0PinBlock } from '../../src/crypto/pin-block.js'
import { tdesEncryptEcb } from '../../src/crypto/des.js'
import { cardHolderDisplayName } from '../../src/card/card-hash.js'
import { chipOfflinePin, chipOnlinePin, contactless, magstripeCredit, magstripeDebitPin } from '../card/fixtures.js'
import { TYPED_VALUES } from '../fixtures/typed-values.js'
import { TOKEN_PREFIX } from '../../src/server/pairing/pairing.js'

export type FindingKind =
  | 'card number'
  | 'track 2'
  | 'track 1'
  | 'PIN block'
  | 'card hash'
  | 'encryption key'
  | 'card field'
  | 'cardholder name'
  | 'typed value'
  | 'pairing secret'

export const FINDING_KINDS: readonly FindingKind[] = ['card number', 'track 2', 'track 1', 'PIN block', 'card hash', 'encryption key', 'card field', 'cardholder name', 'typed value', 'pairing secret']

export interface Finding {
  kind: FindingKind
  /** What matched, masked: enough to find it, not enough to use it. */
  masked: string
  /** Why, when the kind alone does not say (e.g. "DUKPT counter 3, PIN 1234, visa-credit"). */
  detail?: string
}

export interface ScannerOptions {
  /** PIN entries per virtual pinpad whose encrypted PIN blocks are recognised (KSN counters 1…N). */
  pinEntries?: number
}

/** How many PIN entries per virtual pinpad the blocks are precomputed for (the suite makes a few dozen at most per pinpad). */
export const DEFAULT_PIN_ENTRIES = 1024

/** `4761…0010 (16)`: the ends of a secret and its length, never the middle. */
export function maskSecret(secret: string): string {
  if (secret.length <= 6) return `${'*'.repeat(secret.length)} (${secret.length})`
  const keep = secret.length >= 16 ? 4 : 2
  return `${secret.slice(0, keep)}…${secret.slice(-keep)} (${secret.length})`
}

function luhnValid(digits: string): boolean {
  let sum = 0
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let n = digits.charCodeAt(i) - 48
    if (double && (n *= 2) > 9) n -= 9
    sum += n
  }
  return sum % 10 === 0
}

const FIXTURES = [chipOnlinePin(), chipOfflinePin(), magstripeCredit(), magstripeDebitPin(), contactless()]

/** Card fields whose value must never be printed unless redacted or masked. */
const CARD_FIELDS = [
  'card_number', 'card_track_1', 'card_track_2', 'card_track_3', 'card_emv_data', 'card_pin', 'card_holder_name', 'card_expiration_date',
  'pan', 'cardNumber', 'track1', 'track2', 'track3', 'pinBlock', 'emvData', 'holderName', 'card_hash', 'cardHash', 'encryption_key', 'encryptionKey',
  'PP_PAN', 'PP_TRACK1', 'PP_TRACK2', 'PP_TRACK3', 'PP_EMVDATA', 'PP_CHNAME', 'PP_PINBLK', 'PP_CARDEXP', 'PP_ENCPAN',
  'GCR_PAN', 'GCR_TRK1', 'GCR_TRK2', 'GCR_TRK3', 'GCR_CHNAME', 'GCR_CARDEXP', 'GPN_PINBLK', 'GOC_PINBLK', 'GOC_DATAEMV',
]
const FIELD_NAMES = CARD_FIELDS.join('|')
/** `"card_number":"…"` (any JSON value) and `card_number=…` (form-encoded, query strings). */
const JSON_FIELD = new RegExp(`"(${FIELD_NAMES})"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*"|[^,}\\]\\s]+)`, 'g')
const FORM_FIELD = new RegExp(`(?<![A-Za-z0-9_])(${FIELD_NAMES})=([^&\\s"\\\\]+)`, 'g')
/** A value that says nothing: redacted, hidden, masked (`*`, `…`), empty, null or a boolean. */
const SAFE_VALUE = /^(?:"(?:\[redacted\]|\[hidden[^"]*\]|[^"]*[*…][^"]*|\(none\))?"|null|true|false|\[redacted\]|\[hidden.*|.*[*…].*|%5Bredacted%5D)$/

/** A JSON key that looks like a PIN block, with a 16-hex value. */
const PIN_BLOCK_KEY = /"([A-Za-z0-9_]*(?:pin_?blk|pin_?block|encpin|card_pin)[A-Za-z0-9_]*)"\s*:\s*"([0-9A-Fa-f]{16})"/gi
const HEX_RUN = /[0-9A-Fa-f]{16,}/g
const TRACK2 = /(?<!\d)(\d{12,19})[=Dd](\d{2})(\d{2})/g
const TRACK1 = /%?B(\d{12,19})\^([^^"\\\n]{2,26})\^(\d{4})/g
const CARD_HASH = /(?<![A-Za-z0-9+/])(\d{1,20})_([A-Za-z0-9+/]{64,}={0,2})/g
/** RSA-2048 output is 344 Base64 characters; anything that long with no id is treated as a card hash body. */
const BASE64_BODY = /(?<![A-Za-z0-9+/_])[A-Za-z0-9+/]{300,}={0,2}/g
const NOT_HEX = /[G-Zg-z+/]/
const ENCRYPTION_KEY = /(?:ek|ak)_(?:test|live)_[A-Za-z0-9]{4,}/g
const PAIRING_TOKEN = new RegExp(`${TOKEN_PREFIX}[A-Za-z0-9_-]{16,}`, 'g')
const TOKEN_FIELD = /"token"\s*:\s*"([^"]{16,})"/g
/** A pairing code where a request or answer would carry it (error codes are MPOS_ERR_…, never digits). */
const PAIRING_CODE = /"code"\s*:\s*"(\d{6})"|(?<![A-Za-z0-9_])code=(\d{6})(?!\d)/g
const ADMIN_SECRET = /Bearer\s+[0-9a-f]{64}/gi
const BUFFER_JSON = /\{"type":"Buffer","data":\[([0-9,]*)\]\}/g

interface Known {
  /** 16 upper-case hex digits → what it is. */
  pinBlocks: Map<string, string>
  pans: Map<string, string>
  panPattern: RegExp
  names: Map<string, string>
}

function precompute(pinEntries: number): Known {
  const pans = new Map<string, string>()
  for (const card of TEST_CARDS) pans.set(card.pan, card.name)
  for (const card of FIXTURES) if (!pans.has(card.pan)) pans.set(card.pan, 'card-hash fixture')
  const panList = [...pans.keys()].sort((a, b) => b.length - a.length)
  // Digits with an optional blank or dash between them: "4761 7390 0101 0010" too.
  const panPattern = new RegExp(panList.map((p) => p.split('').join('[ -]?')).join('|'), 'g')

  const pins = [...new Set(['1234', ...TEST_CARDS.map((c) => c.pin)])]
  const clear: Array<{ block: Buffer; what: string }> = []
  for (const card of TEST_CARDS) for (const pin of pins) clear.push({ block: buildIso0PinBlock(pin, card.pan), what: `PIN ${pin}, ${card.name}` })

  const pinBlocks = new Map<string, string>()
  for (const { block, what } of clear) pinBlocks.set(block.toString('hex').toUpperCase(), `clear ISO-0 block, ${what}`)
  for (const card of FIXTURES) if (card.pin?.block) pinBlocks.set(card.pin.block.toUpperCase(), 'card-hash fixture PIN block')
  const all = Buffer.concat(clear.map((c) => c.block))
  const store = new DukptKeyStore(Buffer.from(DEFAULT_DUKPT.bdk, 'hex'), parseKsn(DEFAULT_DUKPT.initialKsn))
  for (let entry = 1; entry <= pinEntries; entry++) {
    const { pinKey, ksn } = store.next()
    const encrypted = tdesEncryptEcb(pinKey, all)
    const counter = ksn.subarray(7).toString('hex').toUpperCase().slice(1)
    for (let i = 0; i < clear.length; i++) {
      pinBlocks.set(encrypted.subarray(i * 8, i * 8 + 8).toString('hex').toUpperCase(), `DUKPT KSN …${counter}, ${clear[i]!.what}`)
    }
  }

  const names = new Map<string, string>()
  for (const card of [...TEST_CARDS, ...FIXTURES]) {
    if (!card.holderName) continue
    names.set(card.holderName.trim(), 'as on the card')
    names.set(cardHolderDisplayName(card.holderName).trim(), 'as displayed')
  }
  return { pinBlocks, pans, panPattern, names }
}

export interface Scanner {
  /** Every secret in one log line (JSON or not). */
  scan(line: string): Finding[]
  /** How many PIN blocks it knows. */
  readonly knownPinBlocks: number
}

export function createScanner(options: ScannerOptions = {}): Scanner {
  const known = precompute(options.pinEntries ?? DEFAULT_PIN_ENTRIES)

  function scanText(text: string, out: Finding[], via = ''): void {
    const add = (kind: FindingKind, secret: string, detail?: string) =>
      out.push({ kind, masked: maskSecret(secret), ...(detail || via ? { detail: [detail, via].filter(Boolean).join('; ') } : {}) })

    for (const m of text.matchAll(known.panPattern)) add('card number', m[0], known.pans.get(m[0].replace(/[ -]/g, '')))
    for (const m of text.matchAll(TRACK2)) {
      const month = Number(m[3])
      if (luhnValid(m[1]!) && month >= 1 && month <= 12) add('track 2', m[0])
    }
    for (const m of text.matchAll(TRACK1)) add('track 1', m[0])
    for (const m of text.matchAll(HEX_RUN)) {
      const run = m[0].toUpperCase()
      for (let i = 0; i + 16 <= run.length; i++) {
        const what = known.pinBlocks.get(run.slice(i, i + 16))
        if (what) add('PIN block', run.slice(i, i + 16), what)
      }
    }
    for (const m of text.matchAll(PIN_BLOCK_KEY)) add('PIN block', m[2]!, `in "${m[1]}"`)
    // RSA output in Base64 holds letters beyond A–F; hex (EMV data, tables) does not.
    for (const m of text.matchAll(CARD_HASH)) if (NOT_HEX.test(m[2]!)) add('card hash', m[0])
    for (const m of text.matchAll(BASE64_BODY)) if (NOT_HEX.test(m[0])) add('card hash', m[0], 'a long Base64 body')
    for (const m of text.matchAll(ENCRYPTION_KEY)) add('encryption key', m[0], 'not masked')
    for (const re of [JSON_FIELD, FORM_FIELD]) {
      for (const m of text.matchAll(re)) if (!SAFE_VALUE.test(m[2]!)) add('card field', m[2]!, `in ${m[1]}`)
    }
    for (const [name, how] of known.names) if (text.includes(name)) add('cardholder name', name, how)
    for (const [what, value] of Object.entries(TYPED_VALUES)) if (text.includes(value)) add('typed value', value, `pinpad_input's ${what}`)
    for (const m of text.matchAll(PAIRING_TOKEN)) add('pairing secret', m[0], 'a pairing token')
    for (const m of text.matchAll(TOKEN_FIELD)) if (!m[1]!.startsWith(TOKEN_PREFIX)) add('pairing secret', m[1]!, 'in "token"')
    for (const m of text.matchAll(PAIRING_CODE)) add('pairing secret', m[1] ?? m[2]!, 'a pairing code')
    for (const m of text.matchAll(ADMIN_SECRET)) add('pairing secret', m[0], "the admin route's secret")
  }

  return {
    knownPinBlocks: known.pinBlocks.size,
    scan(line) {
      const out: Finding[] = []
      scanText(line, out)
      // Buffers pino printed as byte arrays: their bytes as hex and as text.
      for (const m of line.matchAll(BUFFER_JSON)) {
        const bytes = Buffer.from(m[1] ? m[1].split(',').map(Number) : [])
        scanText(bytes.toString('hex'), out, 'in a Buffer, as hex')
        scanText(bytes.toString('latin1'), out, 'in a Buffer, as text')
      }
      return out
    },
  }
}

export interface LocatedFinding extends Finding {
  file: string
  line: number
}

export interface ScanReport {
  files: number
  lines: number
  findings: LocatedFinding[]
  /** Lines per logger name (pino's `name`), to see whose logs were scanned. */
  byName: Map<string, number>
  /** Files (processes) per logger name. */
  filesByName: Map<string, number>
}

/** Scans every `*.ndjson` file of a capture directory, line by line. */
export async function scanDirectory(dir: string, scanner: Scanner, options: { exclude?: (file: string) => boolean } = {}): Promise<ScanReport> {
  const report: ScanReport = { files: 0, lines: 0, findings: [], byName: new Map(), filesByName: new Map() }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ndjson') && !options.exclude?.(f)).sort()
  for (const file of files) {
    report.files++
    const names = new Set<string>()
    let n = 0
    const rl = createInterface({ input: createReadStream(path.join(dir, file), 'utf8'), crlfDelay: Infinity })
    for await (const line of rl) {
      n++
      if (!line) continue
      report.lines++
      const name = /"name":"([^"]*)"/.exec(line)?.[1] ?? '(none)'
      names.add(name)
      report.byName.set(name, (report.byName.get(name) ?? 0) + 1)
      for (const f of scanner.scan(line)) report.findings.push({ ...f, file, line: n })
    }
    for (const name of names) report.filesByName.set(name, (report.filesByName.get(name) ?? 0) + 1)
  }
  return report
}

/** `12345.ndjson:17: card number 4761…0010 (16) (visa-credit)` */
export const describeFinding = (f: LocatedFinding): string => `${f.file}:${f.line}: ${f.kind} ${f.masked}${f.detail ? ` (${f.detail})` : ''}`
