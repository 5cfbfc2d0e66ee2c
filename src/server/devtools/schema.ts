/**
 * JSON Schemas of the devtools control API (`POST /devtools/pinpads/:id`), checked by Fastify
 * through the route's `schema` with the ajv instance below: no type coercion, no removal of
 * unknown fields (both Fastify defaults), and `discriminator` so that only the branch the
 * `action` (then the `fault`) names is checked — its error is the one reported.
 */
import type { Ajv, ErrorObject } from 'ajv'
import type { FastifySchemaCompiler } from 'fastify'
import type { Key, Presentation } from '../../simulator/cardholder.js'
import { cardNames } from '../../simulator/cards.js'
import { compileOnFirstUse, loadAjv } from '../../lazy-validator.js'
import type { LinkFaults } from '../../simulator/pinpad-link.js'

export const PRESENTATIONS = ['insert', 'swipe', 'tap'] as const satisfies readonly Presentation[]
/** Keys the page can press: CANCELA, and what moves and confirms a menu (MNU, §6.5.13). */
export const KEYS = ['ok', 'cancel', 'clear', 'up', 'down'] as const satisfies readonly Key[]

/** Upper bounds of the numeric faults: a caller cannot queue endless faults or overflow a timer. */
export const FAULT_LIMITS = {
  /** nakNext, corruptNext, dropNext: commands or responses. */
  count: 1000,
  /** garbageNext: bytes of line noise written at once. */
  garbageBytes: 65_536,
  /** responseDelayMs: as long as the longest timeout a `/ws` client may ask for (120 s). */
  delayMs: 120_000,
} as const

const count = (maximum: number) => ({ type: 'integer', minimum: 0, maximum }) as const

/** One value schema per field of {@link LinkFaults}: the mapped type makes a new fault a compile error here. */
export const FAULT_VALUES: { readonly [K in keyof LinkFaults]: LinkFaults[K] extends boolean ? { type: 'boolean' } : ReturnType<typeof count> } = {
  stalled: { type: 'boolean' },
  nakNext: count(FAULT_LIMITS.count),
  corruptNext: count(FAULT_LIMITS.count),
  dropNext: count(FAULT_LIMITS.count),
  responseDelayMs: count(FAULT_LIMITS.delayMs),
  garbageNext: count(FAULT_LIMITS.garbageBytes),
  held: { type: 'boolean' },
}
export const FAULT_NAMES = Object.keys(FAULT_VALUES) as Array<keyof LinkFaults>

export type FaultAction = { [K in keyof LinkFaults]: { action: 'fault'; fault: K; value: LinkFaults[K] } }[keyof LinkFaults]

/** A request body that passed {@link ACTION_SCHEMA}. */
export type DevtoolsAction =
  | { action: 'present'; card: string; how?: Presentation }
  | { action: 'pin'; pin: string }
  | { action: 'key'; key: (typeof KEYS)[number] }
  /** MNU: pick option n (1-based, as PP_VALUE counts). */
  | { action: 'choose'; option: number }
  /** GCD: type clear data and confirm (never echoed in an error). */
  | { action: 'enter'; data: string }
  | { action: 'remove' }
  | { action: 'unplug' }
  | { action: 'plug' }
  /** The cardholder acts on their own (visa-credit, PIN 1234) or waits for clicks. */
  | { action: 'auto'; on: boolean }
  | FaultAction

/** An object with exactly these fields (`action` first, always required). */
const branch = (action: string, properties: Record<string, object> = {}, required: string[] = []) => ({
  type: 'object',
  properties: { action: { const: action }, ...properties },
  required: ['action', ...required],
  additionalProperties: false,
})

export const ACTIONS = ['present', 'pin', 'key', 'choose', 'enter', 'remove', 'unplug', 'plug', 'auto', 'fault'] as const satisfies ReadonlyArray<DevtoolsAction['action']>

export const ACTION_SCHEMA = {
  type: 'object',
  discriminator: { propertyName: 'action' },
  oneOf: [
    branch('present', { card: { type: 'string', enum: cardNames() }, how: { type: 'string', enum: PRESENTATIONS } }, ['card']),
    branch('pin', { pin: { type: 'string', pattern: '^[0-9]{4,12}$', description: '4 to 12 digits' } }, ['pin']),
    branch('key', { key: { type: 'string', enum: KEYS } }, ['key']),
    branch('choose', { option: { type: 'integer', minimum: 1, maximum: 20 } }, ['option']),
    branch('enter', { data: { type: 'string', pattern: '^[0-9]{0,32}$', description: 'at most 32 digits' } }, ['data']),
    branch('remove'),
    branch('unplug'),
    branch('plug'),
    branch('auto', { on: { type: 'boolean' } }, ['on']),
    {
      type: 'object',
      properties: { action: { const: 'fault' } },
      required: ['action'],
      discriminator: { propertyName: 'fault' },
      oneOf: FAULT_NAMES.map((fault) => branch('fault', { fault: { const: fault }, value: FAULT_VALUES[fault] }, ['fault', 'value'])),
    },
  ],
}

export const PARAMS_SCHEMA = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,8}$', description: 'a virtual pinpad id (a positive integer)' } },
  required: ['id'],
  additionalProperties: false,
}

// verbose: errors carry the offending value and the schema that refused it (for the messages below).
let ajv: Ajv | undefined
const compiler = () => (ajv ??= new (loadAjv())({ allErrors: false, strict: true, coerceTypes: false, removeAdditional: false, useDefaults: false, discriminator: true, verbose: true }))

/**
 * The route's `validatorCompiler`: this ajv, not the app's coercing one. Compiled on the first
 * request, not when Fastify registers the route: the demo page's route is there at every start.
 */
export const compileDevtoolsSchema: FastifySchemaCompiler<unknown> = ({ schema }) => compileOnFirstUse(() => compiler().compile(schema as object))

const ENUMS: Record<string, readonly string[]> = { action: ACTIONS, fault: FAULT_NAMES }

/** One sentence naming the field, in the manner of the `/ws` errors ("pin must be 4 to 12 digits"). */
export function describeDevtoolsError(errors: readonly ErrorObject[], dataVar: string): string {
  const e = errors[0]
  if (!e) return `${dataVar} is invalid`
  const path = e.instancePath.slice(1).replace(/\//g, '.')
  const inUrl = dataVar === 'params' ? ' (in the URL)' : ''
  const field = (name: string) => `${name}${inUrl}`
  // Echo what was sent, briefly; never a PIN, never a customer's data.
  const got = e.instancePath === '' || path === 'pin' || path === 'data' ? '' : ` (got ${JSON.stringify(e.data)?.slice(0, 40)})`
  switch (e.keyword) {
    case 'discriminator': {
      const { tag, tagValue } = e.params as { tag: string; tagValue: unknown }
      if (tagValue === undefined) return `${field(tag)} is required`
      return `${field(tag)} must be one of ${ENUMS[tag]?.join(', ')} (got ${JSON.stringify(tagValue)?.slice(0, 40)})`
    }
    case 'required':
      return `${field((e.params as { missingProperty: string }).missingProperty)} is required`
    case 'additionalProperties':
      return `${field((e.params as { additionalProperty: string }).additionalProperty)} is not allowed${path ? ` in ${path}` : ''}`
    case 'type':
      if (e.instancePath === '') return `the ${dataVar === 'params' ? 'URL parameters' : 'body'} must be a JSON object`
      return `${field(path)} must be ${e.params.type === 'integer' ? 'an integer' : `a ${e.params.type}`}${got}`
    case 'enum':
      return `${field(path)} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}${got}`
    case 'minimum':
    case 'maximum':
      return `${field(path)} must be ${e.keyword === 'minimum' ? '≥' : '≤'} ${(e.params as { limit: number }).limit}${got}`
    case 'pattern':
      return `${field(path)} must be ${(e.parentSchema as { description?: string } | undefined)?.description ?? 'well formed'}${got}`
    default:
      return `${field(path || dataVar)} ${e.message ?? 'is invalid'}${got}`
  }
}
