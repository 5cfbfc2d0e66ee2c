/** `mpos-bridge <command>`: the command-line entry point. */
import { commandHelp, type Command } from './command.js'
import { resolveCommandArgs } from './config.js'
import { ConfigError, INTERNAL_ERROR_CODE, UsageError } from '../errors.js'

/** Each command's module is loaded when it runs (or for the help): `serve` never loads serialport's bindings for `probe`. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  cert: async () => (await import('./commands/cert.js')).certCommand,
  service: async () => (await import('./commands/service.js')).serviceCommand,
  devices: async () => (await import('./commands/devices.js')).devicesCommand,
  probe: async () => (await import('./commands/probe.js')).probeCommand,
  simulate: async () => (await import('./commands/simulate.js')).simulateCommand,
  journal: async () => (await import('./commands/journal.js')).journalCommand,
  pair: async () => (await import('./commands/pair.js')).pairCommand,
  'decrypt-card-hash': async () => (await import('./commands/decrypt.js')).decryptCommand,
}

const load = (name: string): Promise<Command> | undefined => (Object.hasOwn(COMMANDS, name) ? COMMANDS[name]!() : undefined)

function overview(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2
  return [
    'mpos-bridge — a local WebSocket bridge between a browser point-of-sale page and an ABECS pinpad',
    '',
    'Usage: mpos-bridge <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    ...commands.flatMap((c) => [commandHelp(c), '']),
  ].join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const command = rest[0] !== undefined ? await load(rest[0]) : undefined
    process.stdout.write(`${command ? commandHelp(command) : overview(await Promise.all(Object.keys(COMMANDS).map((n) => load(n)!)))}\n`)
    return 0
  }
  const command = await load(name)
  if (!command) {
    process.stderr.write(`mpos-bridge: unknown command "${name}"; see mpos-bridge --help\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${commandHelp(command)}\n`)
    return 0
  }
  try {
    // The configuration file's keys are serve's options: the other commands read the ones they share.
    const { values, positionals, resolved } = resolveCommandArgs(command, rest, process.env, command.name === 'serve' ? command.options : (await load('serve'))!.options)
    return await command.run(values, positionals, resolved)
  } catch (err) {
    const e = err as { code?: string; message: string }
    process.stderr.write(`${JSON.stringify({ error: { code: e.code ?? INTERNAL_ERROR_CODE, message: e.message } })}\n`)
    return err instanceof UsageError || err instanceof ConfigError ? 2 : 1
  }
}

process.exitCode = await main(process.argv.slice(2))
