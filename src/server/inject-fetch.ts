/** A `fetch` answered by the Fastify instance itself (light-my-request), for the bridge's calls to its own embedded sandbox. */
import type { FastifyInstance, InjectOptions } from 'fastify'

export function injectFetch(app: FastifyInstance): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init)
    const url = new URL(request.url)
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined
    const injected = app.inject({
      method: request.method as InjectOptions['method'],
      url: url.pathname + url.search,
      headers: { ...Object.fromEntries(request.headers), host: url.host },
      ...(body ? { payload: body } : {}),
    })
    // The caller's timeout or cancel still ends the wait.
    const aborted = new Promise<never>((_, reject) => {
      if (request.signal.aborted) reject(request.signal.reason)
      request.signal.addEventListener('abort', () => reject(request.signal.reason), { once: true })
    })
    const res = await Promise.race([injected, aborted])
    const headers = new Headers()
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : String(v))
    return new Response(res.statusCode === 204 || res.statusCode === 304 ? null : res.rawPayload, { status: res.statusCode, headers })
  }
}
