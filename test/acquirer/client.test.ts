import t, { type Test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { AcquirerClient, type AcquirerLogger } from '../../src/acquirer/client.js'
import { maskEncryptionKey } from '../../src/acquirer/encryption-key.js'
import { DEFAULT_TABLES } from '../../src/tables/default-tables.js'
import { json, startServer, type TestServer } from './http-server.js'
import { ManualClock, waitUntil } from '../helpers/manual-clock.js'

const KEY = 'ek_test_Qx7ZpR3vT9sLm2Wn8Kd4Ll23'
const MASKED = 'ek_test_…Ll23'
const PEM = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string

/** Every log call, to check that the key never reaches a log. */
function recordingLogger(): AcquirerLogger & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    debug: (obj, msg) => void lines.push(JSON.stringify({ obj, msg })),
    warn: (obj, msg) => void lines.push(JSON.stringify({ obj, msg })),
  }
}

async function withServer(
  t: Test,
  handler: Parameters<typeof startServer>[0],
): Promise<TestServer> {
  const server = await startServer(handler)
  t.teardown(() => server.close())
  return server
}

function client(server: TestServer, extra: Partial<ConstructorParameters<typeof AcquirerClient>[0]> = {}) {
  return new AcquirerClient({ baseUrl: server.baseUrl, timeoutMs: 2000, retries: 2, retryDelayMs: 10, ...extra })
}

/** The error, checked for its code and for the absence of the key. */
async function failure(t: Test, promise: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  const err = (await promise.then(
    () => t.fail('expected a failure'),
    (e: unknown) => e,
  )) as Error & { code: string }
  t.equal(err.code, code)
  t.notMatch(`${err.message}\n${err.stack}`, KEY, 'the encryption key is not in the error')
  return err
}

t.test('masking', async (t) => {
  t.equal(maskEncryptionKey(KEY), MASKED)
  t.equal(maskEncryptionKey('ek_live_abcdefghijklmnopqrstuvwxyz12'), 'ek_live_…yz12')
  t.equal(maskEncryptionKey('short'), 'sho…')
  t.equal(maskEncryptionKey(''), '(none)')
})

t.test('card hash key: Basic auth with the key and "x", {id, public_key} → {id, publicKey}', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 200, { date_created: 'x', id: 4242, ip: '127.0.0.1', public_key: PEM }))
  const logger = recordingLogger()
  const key = await client(server, { logger }).getCardHashKey(KEY)
  t.same(key, { id: 4242, publicKey: PEM })
  t.same(server.requests, [
    {
      method: 'GET',
      url: '/1/transactions/card_hash_key',
      authorization: `Basic ${Buffer.from(`${KEY}:x`).toString('base64')}`,
    },
  ])
  t.ok(logger.lines.length > 0)
  t.notMatch(logger.lines.join('\n'), KEY, 'the key is not logged')
  t.match(logger.lines.join('\n'), MASKED)
})

t.test('card hash key with a string id', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 200, { id: 'abc-123', public_key: PEM }))
  t.same(await client(server).getCardHashKey(KEY), { id: 'abc-123', publicKey: PEM })
})

t.test('terminal updates: checksum URL-encoded, dukpt_keys literally [1,2]; 200 → tables, 304 → up to date', async (t) => {
  const server = await withServer(t, (req, res) => {
    if (req.url?.includes(`checksum=${DEFAULT_TABLES.version}&`)) {
      res.writeHead(304)
      res.end()
    } else json(res, 200, DEFAULT_TABLES)
  })
  const c = client(server)
  const first = await c.getTerminalUpdates(KEY, { checksum: '', dukptKeys: [1, 2] })
  t.same(first, { upToDate: false, tables: DEFAULT_TABLES })
  const again = await c.getTerminalUpdates(KEY, { checksum: DEFAULT_TABLES.version, dukptKeys: [1, 2] })
  t.same(again, { upToDate: true })
  await c.getTerminalUpdates(KEY, { checksum: 'v 1/2&x', dukptKeys: [] })
  t.same(
    server.requests.map((r) => r.url),
    [
      '/1/terminal/updates?checksum=&dukpt_keys=[1,2]',
      `/1/terminal/updates?checksum=${DEFAULT_TABLES.version}&dukpt_keys=[1,2]`,
      '/1/terminal/updates?checksum=v%201%2F2%26x&dukpt_keys=[]',
    ],
  )
})

t.test('a trailing slash in the base URL is ignored', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 200, { id: 1, public_key: PEM }))
  await new AcquirerClient({ baseUrl: `${server.baseUrl}/` }).getCardHashKey(KEY)
  t.equal(server.requests[0]!.url, '/1/transactions/card_hash_key')
})

t.test('slow acquirer: MPOS_ERR_ACQUIRER_TIMEOUT after the retries', async (t) => {
  // The default 15 s per attempt and 300 ms backoff, in virtual time: the requests are real, and
  // the clock moves only once each has reached the server.
  const server = await withServer(t, () => {
    // never answers
  })
  const clock = new ManualClock()
  const logger = recordingLogger()
  const started = clock.now()
  const answer = new AcquirerClient({ baseUrl: server.baseUrl, retries: 1, clock, logger }).getCardHashKey(KEY)
  const failed = failure(t, answer, 'MPOS_ERR_ACQUIRER_TIMEOUT') // it may fail while the clock moves
  await waitUntil(() => server.requests.length === 1, 'the first request')
  await clock.next() // 15 s: the first attempt times out…
  await waitUntil(() => logger.lines.some((l) => l.includes('retrying')), 'the retry to be scheduled')
  const backoff = JSON.parse(logger.lines.find((l) => l.includes('retrying'))!).obj.retryInMs as number
  t.ok(backoff >= 225 && backoff <= 375, `backoff ${backoff} ms: 300 ms ± 25 %`)
  await clock.next() // …the backoff…
  await waitUntil(() => server.requests.length === 2, 'the second request')
  await clock.next() // …and the second attempt's 15 s
  const err = await failed
  t.equal(err.message, 'The acquirer did not answer GET /transactions/card_hash_key within 15000 ms (2 attempt(s))')
  t.equal(server.requests.length, 2)
  t.equal(clock.now() - started, 15_000 + backoff + 15_000, 'two attempts of 15 s and the backoff between')
})

t.test('a body that stalls half way also times out', async (t) => {
  const server = await withServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
    res.write('{"id": 1, "public_key": "')
  })
  await failure(t, client(server, { timeoutMs: 150, retries: 0 }).getCardHashKey(KEY), 'MPOS_ERR_ACQUIRER_TIMEOUT')
})

t.test('401: MPOS_ERR_ACQUIRER_UNAUTHORIZED at once, key masked in the message', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 401, { errors: [{ message: 'encryption_key inválida' }] }))
  const err = await failure(t, client(server).getTerminalUpdates(KEY, { checksum: '', dukptKeys: [1] }), 'MPOS_ERR_ACQUIRER_UNAUTHORIZED')
  t.equal(err.message, `The acquirer refused GET /terminal/updates: invalid encryption key (${MASKED})`)
  t.equal(server.requests.length, 1, 'not retried')
})

t.test('other 4xx: MPOS_ERR_ACQUIRER_REJECTED, not retried', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 404, { errors: [] }))
  const err = await failure(t, client(server).getCardHashKey(KEY), 'MPOS_ERR_ACQUIRER_REJECTED')
  t.match(err.message, /HTTP 404/)
  t.equal(server.requests.length, 1)
})

t.test('500: retried with backoff, then MPOS_ERR_ACQUIRER_UNAVAILABLE', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 500, 'oops'))
  const logger = recordingLogger()
  const clock = new ManualClock()
  const started = clock.now()
  const answer = client(server, { logger, retryDelayMs: 300, clock }).getCardHashKey(KEY)
  const failed = failure(t, answer, 'MPOS_ERR_ACQUIRER_UNAVAILABLE') // it may fail while the clock moves
  const retries = () => logger.lines.filter((l) => l.includes('retrying')).map((l) => JSON.parse(l).obj.retryInMs as number)
  for (let n = 1; n <= 2; n++) {
    await waitUntil(() => retries().length === n, `retry ${n} to be scheduled`)
    await clock.next() // the backoff wait
  }
  const err = await failed
  t.equal(err.message, 'The acquirer answered GET /transactions/card_hash_key with HTTP 500 (3 attempt(s))')
  t.equal(server.requests.length, 3)
  const [first, second] = retries()
  t.ok(first! >= 225 && first! <= 375, `first backoff ${first} ms: 300 ms ± 25 %`)
  t.ok(second! >= 450 && second! <= 750, `second backoff ${second} ms: doubled, ± 25 %`)
  t.equal(clock.now() - started, first! + second!, 'only the backoffs took time')
  t.notMatch(logger.lines.join('\n'), KEY)
})

t.test('503 then 200: the retry succeeds', async (t) => {
  const server = await withServer(t, (_req, res, n) => (n === 1 ? json(res, 503, '') : json(res, 200, { id: 9, public_key: PEM })))
  t.same(await client(server).getCardHashKey(KEY), { id: 9, publicKey: PEM })
  t.equal(server.requests.length, 2)
})

t.test('garbage JSON: MPOS_ERR_ACQUIRER_BAD_RESPONSE, not retried', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 200, '{"id": 1, "public_key": '))
  const err = await failure(t, client(server).getCardHashKey(KEY), 'MPOS_ERR_ACQUIRER_BAD_RESPONSE')
  t.equal(err.message, 'Unexpected answer from the acquirer to GET /transactions/card_hash_key: the body is not JSON')
  t.equal(server.requests.length, 1)
})

t.test('wrong shape: MPOS_ERR_ACQUIRER_BAD_RESPONSE naming the field', async (t) => {
  const bodies: Array<[unknown, RegExp]> = [
    [{ id: 1 }, /response must have required property 'public_key'/],
    [{ id: 'a_b', public_key: PEM }, /response\/id/],
    [[], /response must be object/],
    [{ id: 1, public_key: 'not a key' }, /public_key is not an RSA public key/],
  ]
  for (const [body, message] of bodies) {
    const server = await withServer(t, (_req, res) => json(res, 200, body))
    await failure(t, client(server).getCardHashKey(KEY), 'MPOS_ERR_ACQUIRER_BAD_RESPONSE').then((err) => t.match(err.message, message))
  }
  const badTables = { ...DEFAULT_TABLES, version: 'ELEVEN-CHAR', aids: [{ ...DEFAULT_TABLES.aids[0], aid: 'XYZ' }] }
  const server = await withServer(t, (_req, res) => json(res, 200, badTables))
  const err = await failure(t, client(server).getTerminalUpdates(KEY, { checksum: '', dukptKeys: [1] }), 'MPOS_ERR_ACQUIRER_BAD_RESPONSE')
  t.match(err.message, /tables\/version must match pattern/)
  t.match(err.message, /tables\/aids\/0\/aid must match pattern/)
})

t.test('304 where none is expected, and a redirect, are bad responses', async (t) => {
  const s304 = await withServer(t, (_req, res) => {
    res.writeHead(304)
    res.end()
  })
  await failure(t, client(s304).getCardHashKey(KEY), 'MPOS_ERR_ACQUIRER_BAD_RESPONSE')
  const s302 = await withServer(t, (_req, res) => {
    res.writeHead(302, { location: 'http://example.invalid/' })
    res.end()
  })
  const err = await failure(t, client(s302).getCardHashKey(KEY), 'MPOS_ERR_ACQUIRER_BAD_RESPONSE')
  t.match(err.message, /HTTP 302/)
  t.equal(s302.requests.length, 1, 'the redirect was not followed')
})

t.test('an oversized body is refused', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 200, { id: 1, public_key: PEM, pad: 'x'.repeat(5000) }))
  const err = await failure(t, client(server, { maxResponseBytes: 4096 }).getCardHashKey(KEY), 'MPOS_ERR_ACQUIRER_BAD_RESPONSE')
  t.match(err.message, /larger than 4096 bytes/)
})

t.test('connection reset: retried, then MPOS_ERR_ACQUIRER_UNREACHABLE', async (t) => {
  const server = await withServer(t, (req) => req.socket.destroy())
  const err = await failure(t, client(server).getTerminalUpdates(KEY, { checksum: '', dukptKeys: [1, 2] }), 'MPOS_ERR_ACQUIRER_UNREACHABLE')
  t.match(err.message, /^Cannot reach the acquirer for GET \/terminal\/updates after 3 attempt\(s\): /)
  t.equal(server.requests.length, 3)
})

t.test('reset once, then fine: the retry succeeds', async (t) => {
  const server = await withServer(t, (req, res, n) => (n === 1 ? req.socket.destroy() : json(res, 200, { id: 5, public_key: PEM })))
  t.same(await client(server).getCardHashKey(KEY), { id: 5, publicKey: PEM })
  t.equal(server.requests.length, 2)
})

t.test('connection refused: MPOS_ERR_ACQUIRER_UNREACHABLE with ECONNREFUSED', async (t) => {
  const server = await startServer(() => {})
  await server.close()
  const err = await failure(t, client(server, { retries: 1 }).getCardHashKey(KEY), 'MPOS_ERR_ACQUIRER_UNREACHABLE')
  t.match(err.message, /after 2 attempt\(s\): ECONNREFUSED/)
})

t.test("the caller's signal cancels at once, without retries", async (t) => {
  const server = await withServer(t, () => {})
  const controller = new AbortController()
  const clock = new ManualClock()
  const started = clock.now()
  const answer = client(server, { timeoutMs: 5000, clock }).getCardHashKey(KEY, { signal: controller.signal })
  await waitUntil(() => server.requests.length === 1, 'the request')
  controller.abort()
  const err = await failure(t, answer, 'MPOS_ERR_ACQUIRER_ABORTED')
  t.equal(err.message, 'The request GET /transactions/card_hash_key was cancelled')
  t.equal(clock.now(), started, 'at once: no time passed, the 5 s timeout was not waited for')
  t.equal(clock.pendingTimers, 0, 'and its timer is gone')
  t.equal(server.requests.length, 1)
  // Already aborted: nothing is sent.
  await failure(t, client(server).getCardHashKey(KEY, { signal: AbortSignal.abort() }), 'MPOS_ERR_ACQUIRER_ABORTED')
  t.equal(server.requests.length, 1)
})

t.test('aborting during the backoff wait also cancels', async (t) => {
  const server = await withServer(t, (_req, res) => json(res, 500, ''))
  const controller = new AbortController()
  const logger = recordingLogger()
  const clock = new ManualClock()
  const p = client(server, { retryDelayMs: 5000, clock, logger }).getCardHashKey(KEY, { signal: controller.signal })
  await waitUntil(() => logger.lines.some((l) => l.includes('retrying')), 'the backoff wait')
  t.equal(clock.pendingTimers, 1, 'waiting for the backoff')
  controller.abort()
  await failure(t, p, 'MPOS_ERR_ACQUIRER_ABORTED')
  t.equal(clock.pendingTimers, 0, 'the backoff timer is cleared')
  t.equal(server.requests.length, 1)
})

t.test('bad arguments: MPOS_ERR_ACQUIRER_CONFIG', async (t) => {
  t.throws(() => new AcquirerClient({ baseUrl: 'not a url' }), { code: 'MPOS_ERR_ACQUIRER_CONFIG' })
  t.throws(() => new AcquirerClient({ baseUrl: 'ftp://x/1' }), { code: 'MPOS_ERR_ACQUIRER_CONFIG' })
  t.throws(() => new AcquirerClient({ baseUrl: 'http://u:p@x/1' }), { code: 'MPOS_ERR_ACQUIRER_CONFIG' })
  t.throws(() => new AcquirerClient({ baseUrl: 'http://x/1', retries: -1 }), { code: 'MPOS_ERR_ACQUIRER_CONFIG' })
  const c = new AcquirerClient({ baseUrl: 'http://127.0.0.1:9/1' })
  await t.rejects(c.getCardHashKey(''), { code: 'MPOS_ERR_ACQUIRER_CONFIG' })
  await t.rejects(c.getCardHashKey('ek_test_a:b'), { code: 'MPOS_ERR_ACQUIRER_CONFIG' })
  await t.rejects(c.getTerminalUpdates(KEY, { checksum: '', dukptKeys: [1.5] }), { code: 'MPOS_ERR_ACQUIRER_CONFIG' })
})
