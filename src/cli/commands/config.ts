/** `mpos-bridge config --print`: serve's effective configuration, where each value came from, secrets masked. */
import { UsageError } from '../../errors.js'
import { configKey, configSchema } from '../config.js'
import type { Command, OptionSpec, Source } from '../command.js'
import { serveCommand } from './serve.js'
import { defaultDataDir } from '../data-dir.js'

const MASK = '********'

/** A secret's value never shows; a URL's password neither. */
export function shown(o: OptionSpec, value: unknown): unknown {
  if (value === undefined) return undefined
  if (o.secret) return MASK
  const unpass = (v: unknown) => (typeof v === 'string' ? v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, `$1:${MASK}@`) : v)
  return Array.isArray(value) ? value.map(unpass) : unpass(value)
}

export const configCommand: Command = {
  name: 'config',
  summary: "Show serve's effective configuration (--print) and where each value comes from, or the file's JSON Schema (--schema).",
  config: true,
  options: {
    print: { type: 'boolean', file: false, description: 'Print each setting: its configuration-file key, value, and source (flag, env, file, default)' },
    json: { type: 'boolean', file: false, description: 'With --print: as JSON' },
    schema: { type: 'boolean', file: false, description: 'Print the JSON Schema of the configuration file' },
    // Every serve flag, so that `config --print --port 3000` shows what `serve --port 3000` would use.
    ...serveCommand.options,
  },
  async run(values, _positionals, resolved) {
    if (values.schema) {
      process.stdout.write(`${JSON.stringify(configSchema(serveCommand.options), null, 2)}\n`)
      return 0
    }
    if (!values.print) throw new UsageError('config', 'say --print (the effective configuration) or --schema')
    const rows = Object.entries(serveCommand.options)
      .filter(([, o]) => o.file !== false)
      .map(([name, o]) => {
        // Unset: a flag is off, a data directory is the per-user one, anything else is absent.
        const value = values[name] ?? (o.type === 'boolean' ? false : name === 'data-dir' ? defaultDataDir() : undefined)
        return { key: configKey(name), flag: `--${name}`, env: o.env, value: shown(o, value), source: resolved?.sources[name] ?? ('default' as Source) }
      })
    if (values.json) {
      const settings = Object.fromEntries(rows.map((r) => [r.key, { value: r.value ?? null, source: r.source }]))
      process.stdout.write(`${JSON.stringify({ file: resolved?.configFile ?? null, settings }, null, 2)}\n`)
      return 0
    }
    const text = (v: unknown) => (v === undefined ? '—' : Array.isArray(v) ? v.join(', ') || '—' : String(v))
    const w = [Math.max(...rows.map((r) => r.key.length)), Math.max(...rows.map((r) => text(r.value).length), 5)]
    const lines = [`configuration file: ${resolved?.configFile ?? 'none'}`, '', `${'key'.padEnd(w[0]! + 2)}${'value'.padEnd(w[1]! + 2)}source`]
    for (const r of rows) lines.push(`${r.key.padEnd(w[0]! + 2)}${text(r.value).padEnd(w[1]! + 2)}${r.source}`)
    process.stdout.write(`${lines.join('\n')}\n`)
    return 0
  },
}
