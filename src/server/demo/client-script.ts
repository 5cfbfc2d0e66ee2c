/**
 * `GET /client.js`: the browser client (src/client/index.ts, built to one ES module by
 * `npm run build:client`, which `npm ci` runs through `prepare`), so a page on any allowed origin
 * can `import('http://127.0.0.1:2000/client.js')`. A module script from another origin is fetched
 * in CORS mode: the allowed Origin is echoed in Access-Control-Allow-Origin; any other gets 403,
 * as on /ws (the file holds no secret, but a page that may not connect has no use for it either).
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { checkOrigin, type AccessPolicy } from '../security.js'
import { ClientNotBuiltError, ForbiddenOriginError } from '../../errors.js'
import { httpRefusal } from '../wire.js'

/** Where the build is: beside a compiled server (dist/src/server → dist/src/client), or under dist/ from the sources. */
const CANDIDATES = ['../../client/index.js', '../../../dist/src/client/index.js'].map((p) => fileURLToPath(new URL(p, import.meta.url)))

async function load(): Promise<Buffer | undefined> {
  for (const file of CANDIDATES) {
    try {
      return await readFile(file)
    } catch {
      // next
    }
  }
  return undefined
}

export function registerClientScript(app: FastifyInstance, policy: AccessPolicy): void {
  let script: Promise<Buffer | undefined> | undefined
  app.get('/client.js', async (req, reply) => {
    const origin = req.headers.origin
    const allowed = checkOrigin(origin, policy)
    if (!allowed.ok) return reply.code(403).send(httpRefusal(new ForbiddenOriginError(allowed.reason)))
    // A missing build is looked for again on the next request (a `npm run build:client` meanwhile).
    const body = await (script ??= load())
    if (!body) {
      script = undefined
      return reply.code(503).send(httpRefusal(new ClientNotBuiltError()))
    }
    if (origin !== undefined) reply.header('access-control-allow-origin', origin).header('vary', 'Origin')
    return reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body)
  })
}
