/**
 * The admin route `mpos-bridge pair` uses (`/admin/pairing/…`): issue a code, list pairings,
 * revoke one. Only for the shop's own command line on the till:
 *   - from a loopback address, judged by the socket's remote address (never a header);
 *   - never from a browser: a request with an Origin (or Sec-Fetch-Site) header is refused, so
 *     no web page — not even one on an allowed origin — can reach it;
 *   - with the secret of `admin.secret` in the data directory (made 0600 at each start, readable
 *     by the user running the bridge only) as `Authorization: Bearer …`, compared in constant time.
 * The Host check of every route (app.ts) applies too.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync, renameSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AdminForbiddenError, AdminUnauthorizedError, PairingNotFoundError, RequestFieldError } from '../../errors.js'
import type { Logger } from '../../log.js'
import { httpRefusal } from '../wire.js'
import type { PinpadCodeDisplay } from './display.js'
import type { PairingService } from './pairing.js'

export const ADMIN_SECRET_FILE = 'admin.secret'
export const ADMIN_PREFIX = '/admin/pairing'

/** A fresh secret in `dir`/admin.secret, readable by this user only (written aside, then renamed into place). */
export function writeAdminSecret(dir: string): string {
  const secret = randomBytes(32).toString('hex')
  const file = join(dir, ADMIN_SECRET_FILE)
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, `${secret}\n`, { mode: 0o600 })
  chmodSync(temp, 0o600) // whatever the umask
  renameSync(temp, file)
  return secret
}

/** 127.0.0.0/8, ::1, and 127/8 mapped into IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false
  const v4 = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
  if (isIP(v4) === 4) return v4.startsWith('127.')
  return isIP(address) === 6 && new URL(`http://[${address}]/`).hostname === '[::1]'
}

const digest = (s: string) => createHash('sha256').update(s).digest()

export interface AdminDeps {
  service: PairingService
  display: PinpadCodeDisplay
  secret: string
  log: Logger
}

export function registerPairingAdmin(app: FastifyInstance, deps: AdminDeps): void {
  const expected = digest(deps.secret)
  const guard = async (req: FastifyRequest, reply: FastifyReply) => {
    const refuse = (status: number, error: Error & { code: string }) => {
      deps.log.warn({ remote: req.socket.remoteAddress, url: req.url, code: error.code }, 'refused: admin route')
      return reply.code(status).send(httpRefusal(error))
    }
    if (!isLoopbackAddress(req.socket.remoteAddress)) return refuse(403, new AdminForbiddenError('the admin route answers loopback clients only'))
    if (req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined) return refuse(403, new AdminForbiddenError('the admin route is not for web pages'))
    const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')
    if (!auth) return refuse(401, new AdminUnauthorizedError(`no secret: send the one in ${ADMIN_SECRET_FILE} of the data directory`))
    // Digests are compared: equal lengths, and nothing learnt from the time taken.
    if (!timingSafeEqual(digest(auth[1]!), expected)) return refuse(401, new AdminUnauthorizedError(`wrong secret: send the one in ${ADMIN_SECRET_FILE} of the data directory`))
  }
  const errorHandler = (error: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
    const status = error.statusCode ?? 500
    if (status >= 500) throw error
    return reply.code(status).send(httpRefusal(new RequestFieldError(error.message)))
  }
  const options = { onRequest: guard, errorHandler, bodyLimit: 1024 }

  app.post(`${ADMIN_PREFIX}/code`, options, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>
    if (typeof body !== 'object' || Array.isArray(body)) return reply.code(400).send(httpRefusal(new RequestFieldError('the body must be a JSON object')))
    const onPinpad = body.on_pinpad ?? false
    const deviceId = body.device_id
    if (typeof onPinpad !== 'boolean') return reply.code(400).send(httpRefusal(new RequestFieldError('on_pinpad must be a boolean')))
    if (deviceId !== undefined && !(Number.isInteger(deviceId) && (deviceId as number) >= 1)) return reply.code(400).send(httpRefusal(new RequestFieldError('device_id must be an integer ≥ 1')))
    const { code, expiresAt } = deps.service.issueCode()
    const answer: Record<string, unknown> = { code, expires_at: new Date(expiresAt).toISOString() }
    if (onPinpad) {
      const shown = await deps.display.show(code, deviceId as number | undefined)
      if (shown.ok) answer.pinpad = { device_id: shown.deviceId }
      else answer.pinpad_error = { error: shown.error.message, code: shown.error.code }
    }
    return reply.header('cache-control', 'no-store').send(answer)
  })

  app.get(`${ADMIN_PREFIX}/tokens`, options, async (_req, reply) =>
    reply.header('cache-control', 'no-store').send({
      pairings: deps.service.list().map((r) => ({
        id: r.id,
        origin: r.origin,
        created_at: new Date(r.createdAt).toISOString(),
        last_used_at: r.lastUsedAt !== undefined ? new Date(r.lastUsedAt).toISOString() : null,
      })),
    }),
  )

  app.delete<{ Params: { id: string } }>(`${ADMIN_PREFIX}/tokens/:id`, options, async (req, reply) => {
    const id = /^\d{1,15}$/.test(req.params.id) ? Number(req.params.id) : undefined
    const revoked = id !== undefined ? deps.service.revoke(id) : undefined
    if (!revoked) return reply.code(404).send(httpRefusal(new PairingNotFoundError(req.params.id.slice(0, 40))))
    return { revoked: { id: revoked.record.id, origin: revoked.record.origin }, connections: revoked.connections }
  })
}
