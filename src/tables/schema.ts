/** JSON Schema of {@link EmvTables}, compiled once with ajv. */
import { Ajv, type ValidateFunction } from 'ajv'
import type { EmvTables } from './types.js'
import { compileOnFirstUse } from '../lazy-validator.js'

const hex = (minBytes: number, maxBytes: number) => ({
  type: 'string',
  pattern: '^([0-9A-Fa-f]{2})*$',
  minLength: minBytes * 2,
  maxLength: maxBytes * 2,
})
const digits = (n: number) => ({ type: 'string', pattern: `^[0-9]{${n}}$` })
const ascii = (max: number) => ({ type: 'string', pattern: `^[ -~]{0,${max}}$` })
const cents = { type: 'integer', minimum: 0, maximum: 0xffffffff }
const index99 = { type: 'integer', minimum: 1, maximum: 99 }
const header = { acquirer_number: index99, record_index: index99 }

export const AID_ENTRY_SCHEMA = {
  type: 'object',
  required: [
    'acquirer_number', 'record_index', 'aid', 'application_type', 'application_name', 'app_versions',
    'country_code', 'currency', 'currency_exponent', 'mcc', 'terminal_id', 'terminal_capabilities',
    'additional_terminal_capabilities', 'terminal_type', 'tac_default', 'tac_denial', 'tac_online',
    'floor_limit', 'tcc', 'ctls_zero_amount', 'ctls_mode', 'ctls_transaction_limit', 'ctls_floor_limit',
    'ctls_cvm_limit', 'ctls_app_version', 'tdol', 'ddol',
  ],
  properties: {
    ...header,
    aid: hex(5, 16),
    application_type: { type: 'integer', minimum: 1, maximum: 98 },
    application_name: { type: 'string', pattern: '^[\\u0020-\\u00FF]{0,16}$' },
    app_versions: { type: 'array', minItems: 1, maxItems: 3, items: hex(2, 2) },
    country_code: digits(3),
    currency: digits(3),
    currency_exponent: { type: 'integer', minimum: 0, maximum: 9 },
    merchant_id: ascii(15),
    mcc: digits(4),
    terminal_id: ascii(8),
    terminal_capabilities: hex(3, 3),
    additional_terminal_capabilities: hex(5, 5),
    terminal_type: digits(2),
    tac_default: hex(5, 5),
    tac_denial: hex(5, 5),
    tac_online: hex(5, 5),
    floor_limit: cents,
    tcc: { type: 'string', pattern: '^[ -~]$' },
    ctls_zero_amount: { type: 'boolean' },
    ctls_mode: { type: 'string', pattern: '^[0-9A-C]$' },
    ctls_transaction_limit: cents,
    ctls_floor_limit: cents,
    ctls_cvm_limit: cents,
    ctls_app_version: hex(2, 2),
    tdol: hex(0, 20),
    ddol: hex(0, 20),
    ctls_tac_default: hex(5, 5),
    ctls_tac_denial: hex(5, 5),
    ctls_tac_online: hex(5, 5),
    ctls_terminal_capabilities: hex(3, 3),
    ctls_additional_terminal_capabilities: hex(5, 5),
    mobile_cvm: { type: 'boolean' },
    ctls_mobile_transaction_limit: cents,
    ctls_issuer_scripts: { type: 'boolean' },
  },
} as const

export const CAPK_ENTRY_SCHEMA = {
  type: 'object',
  required: ['acquirer_number', 'record_index', 'rid', 'index', 'exponent', 'modulus', 'checksum'],
  properties: {
    ...header,
    rid: hex(5, 5),
    index: hex(1, 1),
    exponent: { type: 'string', enum: ['03', '010001'] },
    modulus: hex(64, 248),
    checksum: hex(20, 20),
  },
} as const

export const REVOKED_ENTRY_SCHEMA = {
  type: 'object',
  required: ['acquirer_number', 'record_index', 'rid', 'index', 'serial_number'],
  properties: { ...header, rid: hex(5, 5), index: hex(1, 1), serial_number: hex(3, 3) },
} as const

export const APPLICATION_ENTRY_SCHEMA = {
  type: 'object',
  required: ['payment_method', 'card_brand', 'acquirer_number', 'record_number', 'emv_tags'],
  properties: {
    payment_method: { type: 'string', enum: ['credit_card', 'debit_card'] },
    card_brand: { type: 'string', pattern: '^[a-z0-9_-]{1,32}$' },
    acquirer_number: index99,
    record_number: index99,
    emv_tags: { type: 'array', maxItems: 64, items: { type: 'string', pattern: '^([0-9A-Fa-f]{2}){1,3}$' } },
  },
} as const

export const EMV_TABLES_SCHEMA = {
  $id: 'mpos-bridge/emv-tables',
  type: 'object',
  required: ['version', 'aids', 'capks', 'applications'],
  properties: {
    // TLI_TABVER is A10 (§3.5.2).
    version: { type: 'string', pattern: '^[ -~]{1,10}$' },
    aids: { type: 'array', maxItems: 99, items: AID_ENTRY_SCHEMA },
    capks: { type: 'array', maxItems: 99, items: CAPK_ENTRY_SCHEMA },
    revoked_certificates: { type: 'array', maxItems: 99, items: REVOKED_ENTRY_SCHEMA },
    applications: { type: 'array', maxItems: 200, items: APPLICATION_ENTRY_SCHEMA },
  },
} as const

/**
 * One ajv instance for the whole module, made on first use (not at start-up); additional
 * properties are allowed (newer acquirer fields).
 */
let instance: Ajv | undefined
export const tablesAjv = (): Ajv => (instance ??= new Ajv({ allErrors: true, strict: true }))

/** The tables' validator, compiled (and registered under its $id, which the store file's schema refers to) once. */
export const emvTablesValidator = (): ValidateFunction<EmvTables> =>
  (tablesAjv().getSchema(EMV_TABLES_SCHEMA.$id) as ValidateFunction<EmvTables> | undefined) ?? tablesAjv().compile<EmvTables>(EMV_TABLES_SCHEMA)

export const validateEmvTables: ValidateFunction<EmvTables> = compileOnFirstUse(emvTablesValidator)

/** ajv's errors as one line ("tables/aids/0/aid must match pattern …"); never carries data values. */
export function schemaErrors(validate: ValidateFunction, dataVar: string): string {
  return tablesAjv().errorsText(validate.errors?.slice(0, 5), { dataVar })
}
