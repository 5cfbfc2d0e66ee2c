/** `mpos-bridge serve`: the bridge itself (`npm start`). */
import { mkdir } from 'node:fs/promises'
import { createBridgeServer } from '../../server/app.js'
import { createLogger, flushLogSync } from '../../log.js'
import { defaultDataDir } from '../data-dir.js'
import { UsageError } from '../../errors.js'
import type { Command } from '../command.js'
import { CONFIG_ENV, CONFIG_FILE_NAME } from '../config.js'
import { tlsFiles } from '../../tls/files.js'
import pkg from '../../../package.json' with { type: 'json' }

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']
const PORT = { type: 'integer', minimum: 0, maximum: 65535 }

function portOf(name: string, value: unknown): number {
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('serve', `--${name} must be 0–65535, got ${value}`)
  return port
}

export const serveCommand: Command = {
  name: 'serve',
  config: true,
  summary: 'Run the bridge: /ws for the point-of-sale page, HTTP probes, the virtual pinpad and the sandbox acquirer.',
  options: {
    config: { type: 'string', value: 'FILE', env: CONFIG_ENV, file: false, description: `JSON configuration file (default: ${CONFIG_FILE_NAME} in the data directory, if it exists); flags and environment win over it` },
    host: { type: 'string', value: 'HOST', default: '127.0.0.1', env: 'MPOS_BRIDGE_HOST', description: 'Address to listen on (loopback only, unless you mean it)' },
    port: { type: 'string', value: 'PORT', default: '2000', env: 'MPOS_BRIDGE_PORT', schema: PORT, description: 'TCP port of http:// and ws://' },
    serial: { type: 'string', multiple: true, value: 'PATH', env: 'MPOS_BRIDGE_SERIAL', description: 'A serial port to offer as a device even if discovery misses it' },
    baud: { type: 'string', value: 'N', default: '19200', env: 'MPOS_BRIDGE_BAUD', schema: { type: 'integer', minimum: 1 }, description: 'Baud rate of serial pinpads' },
    'no-simulator': { type: 'boolean', env: 'MPOS_BRIDGE_NO_SIMULATOR', description: 'Do not offer the built-in virtual pinpad' },
    'no-discovery': { type: 'boolean', env: 'MPOS_BRIDGE_NO_DISCOVERY', description: 'Do not poll the OS for serial ports' },
    'api-url': { type: 'string', value: 'URL', env: 'MPOS_BRIDGE_API_URL', description: 'Acquirer API base URL (default: the embedded sandbox, /sandbox/1 on this server)' },
    'data-dir': { type: 'string', value: 'DIR', env: 'MPOS_BRIDGE_DATA_DIR', path: true, description: `Where EMV tables and sandbox keys live (default ${defaultDataDir()})` },
    'allowed-origin': { type: 'string', multiple: true, value: 'ORIGIN', env: 'MPOS_BRIDGE_ALLOWED_ORIGIN', description: 'A web origin allowed to connect, e.g. https://pos.example.com or http://*.shop.local:* (local origins always are)' },
    'log-level': { type: 'string', value: 'LEVEL', default: 'info', env: 'MPOS_BRIDGE_LOG_LEVEL', schema: { enum: LEVELS }, description: LEVELS.join(', ') },
    'journal-days': { type: 'string', value: 'N', default: '7', env: 'MPOS_BRIDGE_JOURNAL_DAYS', schema: { type: 'number', exclusiveMinimum: 0, maximum: 3650 }, description: 'Days the payment journal keeps its entries (card hashes: 24 h after the payment is finished)' },
    'no-demo': { type: 'boolean', env: 'MPOS_BRIDGE_NO_DEMO', description: 'Do not serve the demo POS page at / (served with the virtual pinpad)' },
    'require-pairing': { type: 'boolean', env: 'MPOS_BRIDGE_REQUIRE_PAIRING', description: 'Only pages paired with `mpos-bridge pair` may use the pinpads (see README "Pairing")' },
    devtools: { type: 'boolean', env: 'MPOS_BRIDGE_DEVTOOLS', description: 'Serve /devtools: the live state of every machine and controls for the virtual pinpads' },
    tls: { type: 'boolean', env: 'MPOS_BRIDGE_TLS', description: 'Also serve https:// and wss:// on --tls-port, with the certificate of mpos-bridge cert' },
    'tls-only': { type: 'boolean', env: 'MPOS_BRIDGE_TLS_ONLY', description: 'Serve https:// and wss:// on --tls-port alone (no plain port)' },
    'tls-port': { type: 'string', value: 'PORT', default: '2443', env: 'MPOS_BRIDGE_TLS_PORT', schema: PORT, description: 'TCP port of https:// and wss://' },
    'tls-cert': { type: 'string', value: 'FILE', env: 'MPOS_BRIDGE_TLS_CERT', path: true, description: 'PEM certificate (chain) to serve instead of the data directory\'s tls/server.crt' },
    'tls-key': { type: 'string', value: 'FILE', env: 'MPOS_BRIDGE_TLS_KEY', path: true, secret: true, description: 'Its PEM private key (default: tls/server.key in the data directory)' },
    'shutdown-grace': { type: 'string', value: 'SECONDS', default: '10', env: 'MPOS_BRIDGE_SHUTDOWN_GRACE', schema: { type: 'number', minimum: 0, maximum: 600 }, description: 'On SIGTERM/SIGINT, how long a running payment may go on to its end before it is cancelled on the pinpad (new work is refused at once)' },
  },
  async run(values) {
    const port = portOf('port', values.port)
    const tlsPort = portOf('tls-port', values['tls-port'])
    const grace = Number(values['shutdown-grace'])
    if (!(grace >= 0 && grace <= 600)) throw new UsageError('serve', `--shutdown-grace must be 0–600 seconds, got ${values['shutdown-grace']}`)
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
    const useTls = values.tls === true || values['tls-only'] === true
    const files = tlsFiles(dataDir)
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
      // The ABECS stack and the simulator are loaded when a pinpad is first opened, not at every start.
      runtime: { baudRate: baud, loadOnFirstOpen: true },
      devtools: values.devtools === true,
      demo: !values['no-demo'],
      requirePairing: values['require-pairing'] === true,
      journalRetentionDays: journalDays,
      version: pkg.version,
      shutdownGraceMs: grace * 1000,
      ...(useTls
        ? { tls: { certFile: (values['tls-cert'] as string | undefined) ?? files.cert, keyFile: (values['tls-key'] as string | undefined) ?? files.key, port: tlsPort, only: values['tls-only'] === true } }
        : {}),
    })
    // After `mpos-bridge cert --renew`: SIGHUP serves the new certificate without a restart.
    if (useTls && process.platform !== 'win32') {
      process.on('SIGHUP', () => {
        try {
          logger.info({ expires_at: server.reloadTls()?.toISOString() }, 'TLS certificate reloaded')
        } catch (err) {
          logger.error({ err: { message: (err as Error).message } }, 'TLS certificate not reloaded: the old one stays')
        }
      })
    }
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'))
      process.once('SIGTERM', () => resolve('SIGTERM'))
    })
    logger.info({ signal, grace_seconds: grace }, 'shutting down')
    // The process's own last resort, on real time by design: nothing injects a clock into the CLI.
    const forced = setTimeout(() => {
      logger.error('shutdown took too long; exiting')
      logger.flush?.()
      process.exit(1)
    }, grace * 1000 + 8000)
    forced.unref()
    await server.close()
    logger.info('stopped')
    logger.flush?.()
    return 0
  },
}
