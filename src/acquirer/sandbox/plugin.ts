/**
 * The built-in sandbox acquirer, a Fastify plugin the bridge registers under `/sandbox/1`:
 * the two endpoints the bridge calls (card-hash key, terminal updates) and the authorization a
 * shop's server would make (`POST /transactions`), answered from the amount-cents outcome table.
 * Any `ek_test_…` encryption key is accepted. See docs/acquirer.md.
 */
import { createHash, randomInt } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import type { Ajv } from 'ajv'
import { outcomeForAmount } from '../../outcomes.js'
import { buildEmv } from '../../abecs/emv-tlv.js'
import type { EmvTables } from '../../tables/types.js'
import { CardHashInvalidError } from '../../errors.js'
import { loadSandboxKey } from './keys.js'
import { openCardHash } from './card-hash.js'
import { cardBrand, luhnValid } from './brand.js'
import { compileOnFirstUse, loadAjv } from '../../lazy-validator.js'

export interface SandboxAcquirerOptions {
  /** Where the sandbox key pair lives (`<dataDir>/sandbox/card-hash-key.pem`). */
  dataDir: string
  /** The tables `GET /terminal/updates` serves; default DEFAULT_TABLES (src/tables/default-tables.ts). */
  tables?: EmvTables
}

/** Response code of a refusal for a card number whose check digit is wrong (ISO 8583 "14"). */
export const INVALID_CARD_RESPONSE_CODE = '0014'

const TEST_KEY = /^ek_test_[\x21-\x7e]{1,100}$/

/** The fields a card hash must carry for an authorization. */
const CARD_FIELDS_SCHEMA = {
  type: 'object',
  required: ['capture_method', 'payment_method', 'card_number', 'card_expiration_date', 'card_track_2'],
  properties: {
    capture_method: { enum: ['emv', 'magstripe'] },
    payment_method: { enum: ['credit_card', 'debit_card'] },
    card_number: { type: 'string', pattern: '^[0-9]{12,19}$' },
    card_expiration_date: { type: 'string', pattern: '^(0[1-9]|1[0-2])[0-9]{2}$' },
    card_sequence_number: { type: 'string', pattern: '^[0-9]{1,3}$' },
    card_track_2: { type: 'string', minLength: 1 },
    card_emv_data: { type: 'string', pattern: '^([0-9A-Fa-f]{2})+$' },
    card_pin_mode: { enum: ['online', 'offline'] },
  },
} as const

interface CardFields {
  capture_method: 'emv' | 'magstripe'
  payment_method: 'credit_card' | 'debit_card'
  card_number: string
  card_expiration_date: string
  card_holder_name?: string
}

const validateCardFields = compileOnFirstUse(() => new (loadAjv())({ strict: true }).compile<CardFields>(CARD_FIELDS_SCHEMA))

function errorBody(req: FastifyRequest, type: string, parameter: string | null, message: string) {
  return {
    errors: [{ type, parameter_name: parameter, message }],
    url: req.url.split('?')[0],
    method: req.method.toLowerCase(),
  }
}

/** The encryption key of a Basic `Authorization` header (user part), if any. */
function basicUser(req: FastifyRequest): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '')
  if (!m) return undefined
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? decoded : decoded.slice(0, colon)
}

/** Checks the test encryption key; answers 401 and returns false otherwise. */
function authorize(req: FastifyRequest, reply: FastifyReply): boolean {
  const user = basicUser(req)
  if (user !== undefined && TEST_KEY.test(user)) return true
  void reply
    .code(401)
    .send(errorBody(req, 'action_forbidden', null, 'invalid encryption key: the sandbox accepts only ek_test_ keys'))
  return false
}

let routeAjv: Ajv | undefined
/**
 * The two route schemas below compile when first used: Fastify's own compiler builds an ajv with
 * its formats at start-up, a sixth of the bridge's cold start, for routes a bridge with a real
 * acquirer never serves. Fastify's defaults for the rest (coercion as it does).
 */
const compileOnFirstRequest: FastifySchemaCompiler<unknown> = ({ schema }) =>
  compileOnFirstUse(() => (routeAjv ??= new (loadAjv())({ coerceTypes: 'array', useDefaults: true, removeAdditional: true, allErrors: false })).compile(schema as object))

export const sandboxAcquirer: FastifyPluginAsync<SandboxAcquirerOptions> = async (app, options) => {
  // The default tables (and the hash that versions them) loaded by the first request for them.
  let tables = options.tables
  const key = await loadSandboxKey(options.dataDir)
  // Ids only have to differ between calls; seeding with the clock keeps them apart across restarts.
  // The real clock on purpose: a remote acquirer's ids, which a test's clock must not make repeat.
  let nextKeyId = Math.floor(Date.now() / 1000)
  let nextTransactionId = Math.floor(Date.now() / 1000)

  app.get('/transactions/card_hash_key', async (req, reply) => {
    if (!authorize(req, reply)) return reply
    return {
      date_created: new Date().toISOString(),
      id: nextKeyId++,
      ip: req.ip,
      public_key: key.publicKeyPem,
    }
  })

  app.get(
    '/terminal/updates',
    {
      validatorCompiler: compileOnFirstRequest,
      schema: {
        querystring: {
          type: 'object',
          properties: {
            checksum: { type: 'string', maxLength: 64 },
            dukpt_keys: { type: 'string', pattern: '^\\[[0-9,]*\\]$' },
          },
        },
      },
    },
    async (req, reply) => {
      if (!authorize(req, reply)) return reply
      const { checksum } = req.query as { checksum?: string }
      tables ??= (await import('../../tables/default-tables.js')).DEFAULT_TABLES
      if (checksum === tables.version) return reply.code(304).send()
      return tables
    },
  )

  app.post(
    '/transactions',
    {
      validatorCompiler: compileOnFirstRequest,
      schema: {
        body: {
          type: 'object',
          required: ['amount', 'card_hash'],
          properties: {
            amount: { type: 'integer', minimum: 1, maximum: 99_999_999_99 },
            card_hash: { type: 'string', minLength: 1, maxLength: 65_536 },
          },
        },
      },
    },
    async (req, reply) => {
      const { amount, card_hash } = req.body as { amount: number; card_hash: string }
      let fields: Record<string, string>
      try {
        fields = openCardHash(card_hash, key.privateKey)
      } catch (err) {
        if (!(err instanceof CardHashInvalidError)) throw err
        return reply.code(400).send(errorBody(req, 'invalid_parameter', 'card_hash', 'card_hash is invalid'))
      }
      if (!validateCardFields(fields)) {
        const what = validateCardFields.errors?.[0]
        const field = what?.params && 'missingProperty' in what.params ? String(what.params.missingProperty) : what?.instancePath.slice(1)
        return reply.code(400).send(errorBody(req, 'invalid_parameter', 'card_hash', `card_hash lacks a valid ${field ?? 'field'}`))
      }
      const pan = fields.card_number
      const outcome = outcomeForAmount(amount)
      const code = luhnValid(pan) ? outcome.acquirerResponseCode : INVALID_CARD_RESPONSE_CODE
      const paid = code === '0000'
      const id = nextTransactionId++
      const arc = Buffer.from(code.slice(-2), 'ascii')
      const emvResponse =
        fields.capture_method === 'emv'
          ? buildEmv([
              { tag: '8A', value: arc },
              // Issuer authentication data: an 8-byte ARPC (a stand-in; nobody verifies it) and the ARC.
              { tag: '91', value: Buffer.concat([createHash('sha256').update(`${id}:${card_hash}`).digest().subarray(0, 8), arc]) },
            ])
              .toString('hex')
              .toUpperCase()
          : undefined
      const response = {
        object: 'transaction',
        id,
        status: paid ? 'paid' : 'refused',
        refuse_reason: paid ? null : 'acquirer',
        amount,
        acquirer_name: 'sandbox',
        acquirer_response_code: code,
        authorization_code: paid ? String(randomInt(0, 1_000_000)).padStart(6, '0') : null,
        payment_method: fields.payment_method,
        capture_method: fields.capture_method,
        ...(emvResponse ? { card_emv_response: emvResponse } : {}),
        card: {
          object: 'card',
          brand: cardBrand(pan) ?? null,
          first_digits: pan.slice(0, 6),
          last_digits: pan.slice(-4),
          holder_name: fields.card_holder_name ?? null,
          expiration_date: fields.card_expiration_date,
        },
      }
      for (const k of Object.keys(fields)) fields[k] = ''
      return response
    },
  )
}
