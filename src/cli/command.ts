/** A sub-command of `mpos-bridge`: its flags (each optionally from an environment variable) and what it does. */
import { parseArgs } from 'node:util'
import { UsageError } from '../errors.js'

export interface OptionSpec {
  type: 'string' | 'boolean'
  multiple?: boolean
  short?: string
  default?: string | boolean
  /** Environment variable that sets the flag when it is not given (lists: comma-separated). */
  env?: string
  /** Placeholder in the help text, e.g. PATH. */
  value?: string
  description: string
  /** JSON Schema of the value in the configuration file (default: from `type` and `multiple`). */
  schema?: Record<string, unknown>
  /** Masked wherever the configuration is shown (`mpos-bridge config --print`). */
  secret?: boolean
  /** A path: relative in the configuration file means relative to the file's folder. */
  path?: boolean
  /** Not a key of the configuration file (e.g. `--config` itself). */
  file?: false
}

/** Where a value came from, highest precedence first. */
export type Source = 'flag' | 'env' | 'file' | 'default'

export interface Command {
  name: string
  summary: string
  /** Positional arguments, for the help text (e.g. "HASH"). */
  args?: string
  options: Record<string, OptionSpec>
  /** Reads the configuration file (`--config`, else config.json in the data directory) for the options it shares with it. */
  config?: boolean
  run(values: Values, positionals: string[], resolved?: Resolved): Promise<number>
}

/** What the values were resolved from: each option's source, and the configuration file read (if any). */
export interface Resolved {
  sources: Record<string, Source>
  configFile?: string
}

export type Values = Record<string, string | boolean | string[] | undefined>

/** Flags > environment > configuration file (`file`: values by option name) > defaults. */
export function parseCommandArgs(command: Command, argv: string[], env: NodeJS.ProcessEnv = process.env, file: Values = {}) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        Object.entries(command.options).map(([name, o]) => [name, { type: o.type, multiple: o.multiple ?? false, ...(o.short ? { short: o.short } : {}) }]),
      ),
    })
  } catch (err) {
    throw new UsageError(command.name, (err as Error).message)
  }
  const values = { ...parsed.values } as Values
  const sources: Record<string, Source> = {}
  for (const [name, o] of Object.entries(command.options)) {
    if (values[name] !== undefined) {
      sources[name] = 'flag'
      continue
    }
    const fromEnv = o.env ? env[o.env] : undefined
    if (fromEnv !== undefined && fromEnv !== '') {
      if (o.type === 'boolean') values[name] = /^(1|true|yes|on)$/i.test(fromEnv)
      else values[name] = o.multiple ? fromEnv.split(',').map((s) => s.trim()).filter(Boolean) : fromEnv
      sources[name] = 'env'
    } else if (file[name] !== undefined && o.file !== false) {
      values[name] = file[name]
      sources[name] = 'file'
    } else if (o.default !== undefined) {
      values[name] = o.default
      sources[name] = 'default'
    }
  }
  return { values, positionals: parsed.positionals, sources }
}

export function commandHelp(command: Command): string {
  const lines = [`mpos-bridge ${command.name}${command.args ? ` ${command.args}` : ''} [options]`, `  ${command.summary}`, '']
  const rows = Object.entries(command.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`
    const extras = [
      o.multiple ? 'repeatable' : '',
      o.default !== undefined && o.default !== false ? `default ${o.default}` : '',
      o.env ? `env ${o.env}` : '',
    ].filter(Boolean)
    return [flag, `${o.description}${extras.length ? ` (${extras.join('; ')})` : ''}`] as const
  })
  const width = Math.max(...rows.map(([f]) => f.length), 10) + 2
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`)
  return lines.join('\n')
}
