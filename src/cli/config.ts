/**
 * The configuration file: a JSON object whose keys are derived from `serve`'s option table
 * (`--allowed-origin` → `allowedOrigin`), so every new flag gets a key, checked with JSON Schema
 * (ajv). Precedence: flags > environment > file > defaults (src/cli/command.ts).
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { ErrorObject } from 'ajv'
import { loadAjv } from '../lazy-validator.js'
import { ConfigError } from '../errors.js'
import { defaultDataDir } from './data-dir.js'
import { parseCommandArgs, type Command, type OptionSpec, type Resolved, type Values } from './command.js'

export const CONFIG_FILE_NAME = 'config.json'
export const CONFIG_ENV = 'MPOS_BRIDGE_CONFIG'

/** `allowed-origin` → `allowedOrigin`. */
export const configKey = (option: string): string => option.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())

const fileOptions = (options: Record<string, OptionSpec>) => Object.entries(options).filter(([, o]) => o.file !== false)

/** The JSON Schema of the configuration file for these options (`mpos-bridge config --schema`). */
export function configSchema(options: Record<string, OptionSpec>): Record<string, unknown> {
  const properties: Record<string, unknown> = {}
  for (const [name, o] of fileOptions(options)) {
    const base = o.type === 'boolean' ? { type: 'boolean' } : { type: 'string', minLength: 1 }
    const value = o.schema ?? base
    properties[configKey(name)] = { description: o.description, ...(o.multiple ? { type: 'array', items: value } : value) }
  }
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'mpos-bridge configuration', type: 'object', additionalProperties: false, properties }
}

function describe(error: ErrorObject, keys: string[]): string {
  const key = error.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(the file)'
  const p = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'additionalProperties':
      return `"${String(p.additionalProperty)}" is not a setting; the settings are: ${keys.join(', ')}`
    case 'enum':
      return `${key} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
    case 'type':
      return key === '(the file)' ? 'the file must hold a JSON object' : `${key} must be ${p.type === 'array' ? 'a list' : `of type ${String(p.type)}`}`
    default:
      return `${key} ${error.message ?? 'is invalid'}`
  }
}

/** Reads and checks a configuration file: the values by option name, in the form flags have. */
export function readConfigFile(file: string, options: Record<string, OptionSpec>): Values {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(file, `is not JSON: ${(err as Error).message}`)
  }
  const Ajv = loadAjv()
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
  const validate = ajv.compile(configSchema(options))
  if (!validate(data)) {
    const keys = fileOptions(options).map(([name]) => configKey(name))
    throw new ConfigError(file, [...new Set((validate.errors ?? []).map((e) => describe(e, keys)))].join('; '))
  }
  const values: Values = {}
  const object = data as Record<string, unknown>
  for (const [name, o] of fileOptions(options)) {
    const v = object[configKey(name)]
    if (v === undefined) continue
    const asFlag = (x: unknown) => (typeof x === 'number' ? String(x) : (x as string))
    values[name] = Array.isArray(v) ? v.map(asFlag) : typeof v === 'boolean' ? v : asFlag(v)
    if (o.path && typeof values[name] === 'string') values[name] = path.resolve(path.dirname(file), values[name] as string)
  }
  return values
}

/**
 * A command's values from flags, environment, the configuration file and defaults. The file is
 * `--config` (or MPOS_BRIDGE_CONFIG), else config.json in the data directory when it exists;
 * it is checked against `fileSchema` (serve's options) and gives the options the command shares with it.
 */
export function resolveCommandArgs(command: Command, argv: string[], env: NodeJS.ProcessEnv, fileSchema: Record<string, OptionSpec>) {
  const first = parseCommandArgs(command, argv, env)
  if (!command.config) return { ...first, resolved: { sources: first.sources } satisfies Resolved }
  const named = first.values.config as string | undefined
  const dataDir = (first.values['data-dir'] as string | undefined) ?? defaultDataDir(env)
  const fallback = path.join(dataDir, CONFIG_FILE_NAME)
  const file = named ? path.resolve(named) : existsSync(fallback) ? fallback : undefined
  if (!file) return { ...first, resolved: { sources: first.sources } satisfies Resolved }
  const fromFile = readConfigFile(file, fileSchema)
  const shared = Object.fromEntries(Object.entries(fromFile).filter(([name]) => name in command.options))
  const second = parseCommandArgs(command, argv, env, shared)
  return { ...second, resolved: { sources: second.sources, configFile: file } satisfies Resolved }
}
