/** `mpos-bridge serve`: the bridge itself (`npm start`). */
import { mkdir } from 'node:fs/promises'
import { createBridgeServer } from '../../server/app.js'
import { createLogger, flushLogSync } from '../../log.js'
import { defaultDataDir } from '../data-dir.js'
import { UsageError } from '../../errors.js'
import type { Command } from '../command.js'
import pkg from '../../../package.json' with { type: 'json' }

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the bridge: /ws for the point-of-sale page, HTTP probes, the virtual pinpad and the sandbox acquirer.',
  options: {
    host: { type: 'string', value: 'HOST', default: '127.0.0.1', env: 'MPOS_BRIDGE_HOST', description: 'Address to listen on (loopback only, unless you mean it)' },
    port: { type: 'string', value: 'PORT', default: '2000', env: 'MPOS_BRIDGE_PORT', description: 'TCP port' },
    serial: { type: 'string', multiple: true, value: 'PATH', env: 'MPOS_BRIDGE_SERIAL', description: 'A serial port to offer as a device even if discovery misses it' },
    baud: { type: 'string', value: 'N', default: '19200', env: 'MPOS_BRIDGE_BAUD', description: 'Baud rate of serial pinpads' },
    'no-simulator': { type: 'boolean', env: 'MPOS_BRIDGE_NO_SIMULATOR', description: 'Do not offer the built-in virtual pinpad' },
    'no-discovery': { type: 'boolean', env: 'MPOS_BRIDGE_NO_DISCOVERY', description: 'Do not poll the OS for serial ports' },
    'api-url': { type: 'string', value: 'URL', env: 'MPOS_BRIDGE_API_URL', description: 'Acquirer API base URL (default: the embedded sandbox, /sandbox/1 on this server)' },
    'data-dir': { type: 'string', value: 'DIR', env: 'MPOS_BRIDGE_DATA_DIR', description: `Where EMV tables and sandbox keys live (default ${defaultDataDir()})` },
    'allowed-origin': { type: 'string', multiple: true, value: 'ORIGIN', env: 'MPOS_BRIDGE_ALLOWED_ORIGIN', description: 'A web origin allowed to connect, e.g. https://pos.example.com or http://*.shop.local:* (local origins always are)' },
    'log-level': { type: 'string', value: 'LEVEL', default: 'info', env: 'MPOS_BRIDGE_LOG_LEVEL', description: LEVELS.join(', ') },
    'journal-days': { type: 'string', value: 'N', default: '7', env: 'MPOS_BRIDGE_JOURNAL_DAYS', description: 'Days the payment journal keeps its entries (card hashes: 24 h after the payment is finished)' },
    devtools: { type: 'boolean', env: 'MPOS_BRIDGE_DEVTOOLS', description: 'Serve /devtools: the live state of every machine and controls for the virtual pinpads' },
  },
  async run(values) {
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('serve', `--port must be 0–65535, got ${values.port}`)
    const baud = Number(values.baud)
    if (!Number.isInteger(baud) || baud <= 0) throw new UsageError('serve', `--baud must be a positive integer, got ${values.baud}`)
    const journalDays = Number(values['journal-days'])
    if (!(journalDays > 0 && journalDays <= 3650)) throw new UsageError('serve', `--journal-days must be a number of days (0–3650], got ${values['journal-days']}`)
    const level = values['log-level'] as string
    if (!LEVELS.includes(level)) throw new UsageError('serve', `--log-level must be one of ${LEVELS.join(', ')}`)
    const apiUrl = values['api-url'] as string | undefined
    if (apiUrl) {
      try {
        new URL(apiUrl)
      } catch {
        throw new UsageError('serve', `--api-url is not a URL: ${apiUrl}`)
      }
    }
    const dataDir = (values['data-dir'] as string | undefined) ?? defaultDataDir()
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const logger = createLogger({ level: level as 'info' })
    // A promise rejected where nobody awaited it is a bug, not a reason to stop taking cards: it is
    // logged (message and stack, never a value) and the bridge goes on. Exceptions thrown outside any
    // handler leave the process in an unknown state: logged, then exit 1 for the supervisor to restart.
    process.on('unhandledRejection', (reason) => {
      const e = reason as { message?: unknown; stack?: unknown; code?: unknown }
      logger.error({ err: { message: String(e?.message ?? reason), code: e?.code, stack: typeof e?.stack === 'string' ? e.stack : undefined } }, 'unhandled rejection (contained)')
    })
    process.on('uncaughtException', (err) => {
      logger.fatal({ err: { message: err.message, stack: err.stack } }, 'uncaught exception: exiting')
      flushLogSync(logger)
      process.exit(1)
    })
    const server = await createBridgeServer({
      host: values.host as string,
      port,
      dataDir,
      ...(apiUrl ? { apiUrl: apiUrl.replace(/\/+$/, '') } : {}),
      allowedOrigins: (values['allowed-origin'] as string[] | undefined) ?? [],
      serialPaths: (values.serial as string[] | undefined) ?? [],
      simulator: !values['no-simulator'],
      discovery: !values['no-discovery'],
      logger,
      runtime: { baudRate: baud },
      devtools: values.devtools === true,
      journalRetentionDays: journalDays,
      version: pkg.version,
    })
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'))
      process.once('SIGTERM', () => resolve('SIGTERM'))
    })
    logger.info({ signal }, 'shutting down')
    // The process's own last resort, on real time by design: nothing injects a clock into the CLI.
    const forced = setTimeout(() => {
      logger.error('shutdown took too long; exiting')
      process.exit(1)
    }, 8000)
    forced.unref()
    await server.close()
    logger.info('stopped')
    return 0
  },
}
