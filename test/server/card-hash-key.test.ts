/**
 * The card-hash key is fetched once per initialize and serves that session's payments (each card
 * hash still opens with the sandbox's key); a new initialize fetches it again, and so does a
 * payment once the key is older than its maximum age, or after the acquirer answered badly. A kept
 * key costs a payment no fetch step at all (the device machine's `keyKept`).
 */
import t, { type Test } from 'tap'
import { startBridge, Client } from './helpers.js'

const EK = 'ek_test_cardhashkeycardhashkey12'

/** The acquirer client's fetch, counting card-hash key requests. */
function countingFetch() {
  const seen = { keys: 0 }
  const fetchCounting: typeof fetch = (input, init) => {
    if (String(input).includes('/transactions/card_hash_key')) seen.keys++
    return fetch(input, init)
  }
  return { seen, fetch: fetchCounting }
}

async function pay(t: Test, c: Client, amount: number): Promise<string> {
  const paid = await c.request({ command: 'process_payment', amount })
  t.match(paid.response, { status: 'accepted' }, `payment of ${amount}`)
  t.match(await c.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
  return paid.response.card_hash as string
}

t.test('one key per initialize', async (t) => {
  const counter = countingFetch()
  const rig = await startBridge(t, { runtime: { acquirer: { fetch: counter.fetch } } })
  const c = await Client.open(t, rig.wsUrl)
  t.match(await c.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const hashes = [await pay(t, c, 1000), await pay(t, c, 1001), await pay(t, c, 1002)]
  t.equal(counter.seen.keys, 1, 'three payments, one key fetched')
  t.equal(new Set(hashes.map((h) => h.split('_')[0])).size, 1, 'the same key id in each card hash')
  // The sandbox opens each with its private key: a POST /transactions accepts them.
  for (const [i, card_hash] of hashes.entries()) {
    const res = await fetch(`${rig.server.url}/sandbox/1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${EK}:x`).toString('base64')}` },
      body: JSON.stringify({ amount: 1000 + i, card_hash }),
    })
    t.equal(res.status, 200, `card hash ${i + 1} opens`)
  }
  t.match(await c.request({ command: 'close' }), { success: true })
  t.match(await c.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  await pay(t, c, 1003)
  t.equal(counter.seen.keys, 2, 'a new initialize fetches a new key')
})

t.test('a key past its age is fetched again', async (t) => {
  const counter = countingFetch()
  const rig = await startBridge(t, { runtime: { acquirer: { fetch: counter.fetch }, cardHashKeyMaxAgeMs: 0 } })
  const c = await Client.open(t, rig.wsUrl)
  t.match(await c.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  await pay(t, c, 1000)
  await pay(t, c, 1001)
  t.equal(counter.seen.keys, 2, 'each payment fetched the key')
})

/** How many fetchCardHashKey steps the device machines started (the runtime's inspection records). */
function countingKeySteps() {
  const seen = { steps: 0 }
  const inspect = (r: { actor: string; type: string; event?: unknown }) => {
    if (r.actor === 'fetchCardHashKey' && r.type === '@xstate.event' && (r.event as { type?: string } | undefined)?.type === 'xstate.init') seen.steps++
  }
  return { seen, inspect }
}

t.test('the kept key is used without a fetch step; past its age the step runs again', async (t) => {
  const steps = countingKeySteps()
  const rig = await startBridge(t, { runtime: { inspect: steps.inspect } })
  const c = await Client.open(t, rig.wsUrl)
  t.match(await c.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  await pay(t, c, 1000)
  await pay(t, c, 1001)
  await pay(t, c, 1002)
  t.equal(steps.seen.steps, 1, 'three payments, one fetchCardHashKey step (the first payment’s)')

  const aged = countingKeySteps()
  const rig2 = await startBridge(t, { runtime: { inspect: aged.inspect, cardHashKeyMaxAgeMs: 0 } })
  const c2 = await Client.open(t, rig2.wsUrl)
  t.match(await c2.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  await pay(t, c2, 1000)
  await pay(t, c2, 1001)
  t.equal(aged.seen.steps, 2, 'a key too old to keep: each payment runs the step')
})

t.test('a key the acquirer answered badly is not kept: the next payment fetches one', async (t) => {
  const counter = countingFetch()
  let first = true
  // The first key the acquirer hands out has an id a card hash can not carry ("_" separates it).
  const badFirstKey: typeof fetch = async (input, init) => {
    const res = await counter.fetch(input, init)
    if (!String(input).includes('/transactions/card_hash_key') || !first) return res
    first = false
    const body = (await res.json()) as Record<string, unknown>
    return new Response(JSON.stringify({ ...body, id: 'bad_id' }), { status: 200, headers: { 'content-type': 'application/json' } })
  }
  const rig = await startBridge(t, { runtime: { acquirer: { fetch: badFirstKey } } })
  const c = await Client.open(t, rig.wsUrl)
  t.match(await c.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const failed = await c.request({ command: 'process_payment', amount: 1000 })
  t.match(failed.response, { status: 'errored', error: /acquirer to GET \/transactions\/card_hash_key/ }, 'the first payment fails on the key')
  t.match(await c.request({ command: 'finish_payment', success: false }), { success: true })
  await pay(t, c, 1001)
  t.equal(counter.seen.keys, 2, 'nothing was kept: the second payment fetched a key')
})
