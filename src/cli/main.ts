/** `mpos-bridge <command>`: the command-line entry point. */
import { commandHelp, type Command } from './command.js'
import { resolveCommandArgs } from './config.js'
import { devicesCommand } from './commands/devices.js'
import { probeCommand } from './commands/probe.js'
import { simulateCommand } from './commands/simulate.js'
import { serveCommand } from './commands/serve.js'
import { decryptCommand } from './commands/decrypt.js'
import { journalCommand } from './commands/journal.js'
import { pairCommand } from './commands/pair.js'
import { certCommand } from './commands/cert.js'
import { configCommand } from './commands/config.js'
import { serviceCommand } from './commands/service.js'
import { ConfigError, INTERNAL_ERROR_CODE, UsageError } from '../errors.js'

const COMMANDS: Command[] = [serveCommand, configCommand, certCommand, serviceCommand, devicesCommand, probeCommand, simulateCommand, journalCommand, pairCommand, decryptCommand]

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    'mpos-bridge — a local WebSocket bridge between a browser point-of-sale page and an ABECS pinpad',
    '',
    'Usage: mpos-bridge <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    ...COMMANDS.flatMap((c) => [commandHelp(c), '']),
  ].join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const command = COMMANDS.find((c) => c.name === rest[0])
    process.stdout.write(`${command ? commandHelp(command) : overview()}\n`)
    return 0
  }
  const command = COMMANDS.find((c) => c.name === name)
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
    const { values, positionals, resolved } = resolveCommandArgs(command, rest, process.env, serveCommand.options)
    return await command.run(values, positionals, resolved)
  } catch (err) {
    const e = err as { code?: string; message: string }
    process.stderr.write(`${JSON.stringify({ error: { code: e.code ?? INTERNAL_ERROR_CODE, message: e.message } })}\n`)
    return err instanceof UsageError || err instanceof ConfigError ? 2 : 1
  }
}

process.exitCode = await main(process.argv.slice(2))
