/**
 * The sandbox acquirer (src/acquirer/sandbox) on 127.0.0.1, port 0, for card-hash keys and EMV
 * tables. `holdCardHashKey()` makes the next card-hash-key requests wait until released: a slow
 * acquirer, so that a test can act while the device is in `processed`.
 */
import Fastify from 'fastify'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { sandboxAcquirer } from '../../../src/acquirer/sandbox/index.js'
import { silentLogger } from '../../../src/log.js'
import type { ManualClock } from '../../helpers/manual-clock.js'

export interface Sandbox {
  /** Base URL of the acquirer API (`…/sandbox/1`). */
  url: string
  dataDir: string
  /** Card-hash-key requests wait until the returned function is called. */
  holdCardHashKey(): () => void
  /** Card-hash-key requests received so far. */
  cardHashKeyRequests: number
  /**
   * The clock of the bridge using the sandbox, if a ManualClock: while a card-hash-key request is
   * kept waiting, the hold its fetch took is lent back (the clock moves until the test releases it).
   */
  clock?: ManualClock
}

export function tempDir(t: Test, prefix = 'mpos-machines-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export async function startSandbox(t: Test): Promise<Sandbox> {
  const dataDir = tempDir(t, 'mpos-sandbox-')
  // Request logging on, into the log capture when the suite's log scan runs.
  const app = Fastify({ loggerInstance: silentLogger })
  let gate: { promise: Promise<void>; release: () => void } | undefined
  const sandbox: Sandbox = {
    url: '',
    dataDir,
    cardHashKeyRequests: 0,
    holdCardHashKey() {
      let release!: () => void
      const promise = new Promise<void>((r) => (release = r))
      const mine = { promise, release }
      gate = mine
      return () => {
        if (gate === mine) gate = undefined
        mine.release()
      }
    },
  }
  app.addHook('onRequest', async (req) => {
    if (!req.url.includes('/transactions/card_hash_key')) return
    sandbox.cardHashKeyRequests++
    if (!gate) return
    if (sandbox.clock) await sandbox.clock.releaseDuring(gate.promise)
    else await gate.promise
  })
  await app.register(sandboxAcquirer, { prefix: '/sandbox/1', dataDir })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  sandbox.url = `${address}/sandbox/1`
  t.teardown(async () => {
    gate?.release()
    await app.close()
  })
  return sandbox
}
