/**
 * https:// and wss:// for the bridge: the certificate and key as files, read again on `reload()`
 * (after `mpos-bridge cert --renew`), and a second listener beside the plain one that hands its
 * requests and upgrades to the same Fastify instance — one runtime, the same contexts on both ports.
 */
import https from 'node:https'
import type { Duplex } from 'node:stream'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { loadServerCredentials, type ServerCredentials } from '../tls/credentials.js'

export interface TlsOptions {
  /** PEM files: the server certificate (chain) and its private key. */
  certFile: string
  keyFile: string
  /** Port of https:// and wss:// (0: any free one). */
  port: number
  /** Serve TLS alone: no plain http:// / ws:// listener. */
  only?: boolean
}

export class TlsCredentials {
  #current: ServerCredentials
  constructor(readonly options: TlsOptions) {
    this.#current = loadServerCredentials(options.certFile, options.keyFile)
  }
  get current(): ServerCredentials {
    return this.#current
  }
  /** Reads the files again (throws, keeping the old ones, if they are unusable). */
  reload(): ServerCredentials {
    this.#current = loadServerCredentials(this.options.certFile, this.options.keyFile)
    return this.#current
  }
  /** What /ready reports. */
  status(now: number): { expires_at: string; days_left: number; expired: boolean } {
    const expires = this.#current.expires.getTime()
    return { expires_at: new Date(expires).toISOString(), days_left: Math.floor((expires - now) / 86_400_000), expired: expires <= now }
  }
}

/** The https server for `serverFactory` (TLS only) or beside Fastify's own (both). */
export function createTlsServer(credentials: TlsCredentials, handler: (req: IncomingMessage, res: ServerResponse) => void): https.Server {
  const { cert, key } = credentials.current
  return https.createServer({ cert, key, minVersion: 'TLSv1.2' }, handler)
}

/** A second listener: its requests go through Fastify's routing, its upgrades to @fastify/websocket. */
export async function listenBeside(app: FastifyInstance, credentials: TlsCredentials, host: string): Promise<{ server: https.Server; port: number }> {
  const server = createTlsServer(credentials, (req, res) => app.routing(req, res))
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => app.server.emit('upgrade', req, socket, head))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(credentials.options.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return { server, port: (server.address() as { port: number }).port }
}

export function reloadInto(server: https.Server, credentials: TlsCredentials): ServerCredentials {
  const next = credentials.reload()
  server.setSecureContext({ cert: next.cert, key: next.key })
  return next
}

export async function closeTlsServer(server: https.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
