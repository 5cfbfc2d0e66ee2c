/**
 * Another acquirer, written from docs/acquirer.md alone (it shares no code with the sandbox): a
 * plain node:http server with its own RSA-2048 key that implements the two endpoints the bridge
 * calls, `GET /transactions/card_hash_key` and `GET /terminal/updates` (Basic auth, user = the
 * encryption key, password "x"; 401 for any other key; 304 when `checksum` is its version), and
 * `POST /transactions`, where it opens card hashes the way an acquirer does.
 */
import type { Test } from 'tap'
import { constants, generateKeyPairSync, privateDecrypt, type KeyObject } from 'node:crypto'
import { buildEmv } from '../../src/abecs/emv-tlv.js'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'
import type { EmvTables } from '../../src/tables/types.js'
import { basicHeader, basicUser, sendJson, startHttpServer, type HttpServer } from './helpers.js'

export const EXTERNAL_KEY = 'ek_live_Zr8Pq2Lx5Vt7Nc3Bm9Hd6Kf1'
export const EXTERNAL_TABLES: EmvTables = { ...DEFAULT_TABLES, version: 'EXT2026-01' }

/** Strict PKCS#1 v1.5 type 2 unpadding (00 02 PS≥8 nonzero 00 M); undefined when malformed. */
function unpad(em: Buffer): Buffer | undefined {
  if (em[0] !== 0x00 || em[1] !== 0x02) return undefined
  const sep = em.indexOf(0x00, 2)
  if (sep < 10) return undefined
  return em.subarray(sep + 1)
}

/** What the other acquirer does with a card hash: its key id, RSA blocks, padding, the form. */
export function openHash(hash: string, privateKey: KeyObject, issuedIds: Set<string>): Record<string, string> {
  const underscore = hash.indexOf('_')
  const id = hash.slice(0, underscore)
  if (!issuedIds.has(id)) throw new Error(`unknown key id ${id}`)
  const cipher = Buffer.from(hash.slice(underscore + 1), 'base64')
  if (cipher.length === 0 || cipher.length % 256 !== 0) throw new Error('not whole 256-byte blocks')
  const parts: Buffer[] = []
  for (let pos = 0; pos < cipher.length; pos += 256) {
    const block = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, cipher.subarray(pos, pos + 256))
    const message = unpad(block)
    if (!message) throw new Error('bad padding')
    // Every block but the last is full: 256 − 11 bytes.
    if (pos + 256 < cipher.length && message.length !== 245) throw new Error(`block of ${message.length} bytes`)
    parts.push(message)
  }
  const form = Buffer.concat(parts).toString('utf8')
  const fields: Record<string, string> = {}
  for (const pair of form.split('&')) {
    const eq = pair.indexOf('=')
    const value = pair.slice(eq + 1)
    // RFC 3986: nothing outside the unreserved set stays unescaped.
    if (!/^(?:[A-Za-z0-9\-_.~]|%[0-9A-F]{2})*$/.test(value)) throw new Error(`${pair.slice(0, eq)} is not RFC 3986 encoded`)
    fields[pair.slice(0, eq)] = decodeURIComponent(value)
  }
  return fields
}

export interface ExternalAcquirer {
  server: HttpServer
  /** Base URL of the API, as `--api-url` takes it. */
  apiUrl: string
  /** Card hashes this server opened, in order. */
  opened: Array<Record<string, string>>
  issuedIds: Set<string>
  /** What `GET /terminal/updates` serves; replace it to publish a new version. */
  tables: EmvTables
}

/** The other acquirer: GET card_hash_key, GET terminal/updates (and POST transactions for the shop). */
export async function startExternalAcquirer(t: Test, tables: EmvTables = EXTERNAL_TABLES): Promise<ExternalAcquirer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string
  const issuedIds = new Set<string>()
  const opened: Array<Record<string, string>> = []
  let nextId = 7001
  const acquirer: Partial<ExternalAcquirer> = { opened, issuedIds, tables }
  const server = await startHttpServer(t, (req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const authorized = () => {
      const header = req.headers.authorization
      if (basicUser(header) === EXTERNAL_KEY && header === basicHeader(EXTERNAL_KEY, 'x')) return true
      sendJson(res, 401, { errors: [{ type: 'action_forbidden', parameter_name: null, message: 'api_key inválida' }], url: url.pathname, method: 'get' })
      return false
    }
    if (req.method === 'GET' && url.pathname === '/api/v1/transactions/card_hash_key') {
      if (!authorized()) return
      const id = `ck${nextId++}`
      issuedIds.add(id)
      return sendJson(res, 200, { date_created: new Date().toISOString(), id, ip: '127.0.0.1', public_key: publicPem })
    }
    if (req.method === 'GET' && url.pathname === '/api/v1/terminal/updates') {
      if (!authorized()) return
      if (url.searchParams.get('checksum') === acquirer.tables!.version) return sendJson(res, 304)
      return sendJson(res, 200, acquirer.tables)
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/transactions') {
      const { amount, card_hash } = JSON.parse(body) as { amount: number; card_hash: string }
      const fields = openHash(card_hash, privateKey, issuedIds)
      opened.push(fields)
      const arc = Buffer.from('00', 'latin1')
      const emv =
        fields.capture_method === 'emv'
          ? buildEmv([
              { tag: '8A', value: arc },
              { tag: '91', value: Buffer.concat([Buffer.from('A1B2C3D4E5F60718', 'hex'), arc]) },
            ])
              .toString('hex')
              .toUpperCase()
          : undefined
      return sendJson(res, 200, { status: 'paid', amount, acquirer_response_code: '0000', ...(emv ? { card_emv_response: emv } : {}) })
    }
    sendJson(res, 404, { errors: [{ message: 'not found' }] })
  })
  return Object.assign(acquirer, { server, apiUrl: `${server.origin}/api/v1` }) as ExternalAcquirer
}
