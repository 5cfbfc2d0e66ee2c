/**
 * The real actors the device machine invokes (machines/device.machine.ts): each one a pinpad
 * step over the device's link, stopped (and so cancelled on the wire) when the machine leaves
 * the state that invoked it.
 */
import { fromCallback, fromPromise } from 'xstate'
import type { DeviceEvent, FinishInput, HashInput, LinkInput, MessageInput, OpenInput, ReadCardInput, CardInput, SyncInput } from '../../machines/device.machine.js'
import { DEFAULT_PAYMENT_TIMEOUT_MS, type PinpadIdentity, type ReadCardOutput } from '../../machines/types.js'
import { HostLink, type LinkTimings, type LinkTrace } from '../abecs/link.js'
import { PinpadClient } from '../abecs/client.js'
import { PinpadStatusError, LinkCancelledError } from '../errors.js'
import { ST } from '../abecs/return-codes.js'
import type { DeviceRegistry } from '../devices/registry.js'
import type { CardVault } from '../card/vault.js'
import type { AcquirerClient } from '../acquirer/client.js'
import type { TablesStore } from '../tables/store.js'
import type { EmvTables } from '../tables/types.js'
import { syncTables } from '../tables/sync.js'
import { createCardHash, type CardHashKey } from '../card/card-hash.js'
import type { Logger } from '../log.js'
import { Connections } from './connections.js'
import { identifyPinpad } from './identify.js'
import { loadTables, pinpadTablesVersion } from './tables-load.js'
import { capturePin, finishChip, goOnChip, readCard, removeCard, type PaymentDeps } from './payment.js'
import { fitsDsp, toDexMessage, toDspMessage } from './display-text.js'
import { DeviceTimeoutError } from './errors.js'

export interface DeviceActorDeps {
  registry: DeviceRegistry
  vault: CardVault
  acquirer: Pick<AcquirerClient, 'getCardHashKey' | 'getTerminalUpdates'>
  tablesStore: TablesStore
  logger: Logger
  connections?: Connections
  /** Shown when the pinpad is idle (DSP, 2×16). */
  idleMessage?: string
  /** Link timings (tests shorten them). */
  linkTimings?: Partial<LinkTimings>
  /** Every link trace (ids, sizes, NAKs, bad answers — never packet contents), for metrics. */
  onLinkTrace?: (deviceId: string, trace: LinkTrace) => void
  now?: () => Date
}

export function createDeviceActors(deps: DeviceActorDeps) {
  const connections = deps.connections ?? new Connections()
  /** The tables each device was synced with: applications per brand for the card read. */
  const tablesOf = new Map<string, EmvTables>()
  /** The card-hash key asked for when a payment starts, by device. */
  const cardHashKeys = new Map<string, Promise<CardHashKey>>()
  /** When the customer's time for the payment in progress ends (epoch ms), by device. */
  const customerDeadlines = new Map<string, number>()
  const clock = () => (deps.now?.() ?? new Date()).getTime()
  const idle = toDspMessage(deps.idleMessage ?? 'MPOS BRIDGE PRONTO')

  const paymentDeps = (deviceId: string, signal: AbortSignal): PaymentDeps => {
    const c = connections.get(deviceId)
    const tables = tablesOf.get(deviceId)
    const deadline = customerDeadlines.get(deviceId)
    return {
      client: c.client,
      identity: c.identity,
      vault: deps.vault,
      signal,
      ...(tables ? { tables } : {}),
      ...(deps.now ? { now: deps.now } : {}),
      ...(deadline !== undefined ? { customerSeconds: () => (deadline - clock()) / 1000 } : {}),
    }
  }

  return {
    connections,

    actions: {
      /** The pinpad stopped answering: its port is closed without CAN or CLO (nothing would come back). */
      abandonLink: (_: unknown, deviceId: string) => void connections.close(deviceId),
      dropCard: (_: unknown, cardRef: string) => deps.vault.drop(cardRef),
    },

    actors: {
      openLink: fromPromise<PinpadIdentity, OpenInput>(async ({ input, signal }) => {
        const stream = await deps.registry.open(Number(input.deviceId), input.baudRate ? { baudRate: input.baudRate } : {})
        // A wrong or silent port must fail within timeout_milliseconds: every wait is a share of it.
        const budget = input.timeoutMs
        const timings: Partial<LinkTimings> = {
          ...deps.linkTimings,
          ...(budget ? { ackTimeoutMs: Math.min(2000, budget / 4), cancelTimeoutMs: Math.min(2000, budget / 4), maxCancels: 1, responseTimeoutMs: Math.min(10_000, budget / 2) } : {}),
        }
        const link = new HostLink(stream, timings)
        const client = new PinpadClient(link)
        link.on('trace', (e) => {
          deps.logger.trace({ device: input.deviceId, ...e }, 'link')
          deps.onLinkTrace?.(input.deviceId, e)
        })
        const timer = budget ? setTimeout(() => void link.close(), budget) : undefined
        try {
          const identity = await identifyPinpad(client, { signal })
          connections.set({ deviceId: input.deviceId, link, client, identity })
          return identity
        } catch (err) {
          await link.close().catch(() => {})
          if (budget && (err as { code?: string }).code === 'MPOS_ERR_LINK_CLOSED') throw new DeviceTimeoutError(budget)
          throw err
        } finally {
          if (timer) clearTimeout(timer)
        }
      }),

      watchLink: fromCallback<DeviceEvent, LinkInput>(({ input, sendBack }) => {
        const c = connections.find(input.deviceId)
        if (!c || c.link.closed) {
          sendBack({ type: 'LINK.CLOSED', reason: 'the link is not open' })
          return () => {}
        }
        const onClosed = (reason: string) => sendBack({ type: 'LINK.CLOSED', reason })
        const onNote = ({ message }: { message: string }) => sendBack({ type: 'PINPAD.PROMPT', message })
        c.link.on('closed', onClosed)
        c.link.on('notification', onNote)
        return () => {
          c.link.off('closed', onClosed)
          c.link.off('notification', onNote)
        }
      }),

      syncTables: fromPromise<{ tablesVersion: string; loaded: boolean }, SyncInput>(async ({ input, signal }) => {
        const c = connections.get(input.deviceId)
        const synced = await syncTables({
          client: deps.acquirer,
          store: deps.tablesStore,
          encryptionKey: input.encryptionKey,
          pinpadModel: c.identity.model,
          dukptKeys: c.identity.dukptKeys,
          signal,
        })
        tablesOf.set(input.deviceId, synced.tables)
        const current = await pinpadTablesVersion(c.client, c.identity, { signal })
        const loaded = input.force || current !== synced.version
        if (loaded) await loadTables(c.client, synced.tables, c.identity, { signal })
        deps.logger.info({ device: input.deviceId, version: synced.version, loaded, stale: synced.stale }, 'EMV tables in sync')
        return { tablesVersion: synced.version, loaded }
      }),

      showIdle: fromPromise<void, LinkInput>(async ({ input, signal }) => {
        await connections.get(input.deviceId).client.call('DSP', { DSP_MSG: idle }, { signal })
      }),

      readCard: fromPromise<ReadCardOutput, ReadCardInput>(async ({ input, signal }) => {
        // The card-hash key is fetched while the pinpad waits for the card, not after the PIN: an
        // acquirer that cannot give one stops the payment before the cardholder does anything more.
        // A 020 reload resumes the same payment: the key asked for by the first read still serves.
        if (!input.resume) customerDeadlines.set(input.deviceId, clock() + (input.payment.timeout_milliseconds ?? DEFAULT_PAYMENT_TIMEOUT_MS))
        const fetching = new AbortController()
        const key = (input.resume && cardHashKeys.get(input.deviceId)) || deps.acquirer.getCardHashKey(input.encryptionKey, { signal: fetching.signal })
        key.catch(() => {})
        cardHashKeys.set(input.deviceId, key)
        const read = new AbortController()
        // Stopped (cancel, close) before the card came: the read and the key request both end.
        const stopRead = () => {
          read.abort()
          fetching.abort()
          cardHashKeys.delete(input.deviceId)
        }
        signal.addEventListener('abort', stopRead, { once: true })
        const d = paymentDeps(input.deviceId, read.signal)
        d.onPrompt = () => {} // NTM reach the machine through watchLink
        const reading = readCard(d, input.payment, input.resume, tablesOf.get(input.deviceId)?.version)
        reading.catch(() => {})
        const keyFailed = key.then(
          () => new Promise<never>(() => {}),
          (err: unknown) => {
            read.abort() // CAN on the wire: nobody should insert a card now
            throw err
          },
        )
        try {
          return await Promise.race([reading, keyFailed])
        } catch (err) {
          // §3.6.1: GCR's 020 means "reload the tables, then GCR again".
          if (err instanceof PinpadStatusError && err.status === ST.TABVERDIF && !input.identity.abecs) return { kind: 'tables-outdated' }
          throw err
        } finally {
          signal.removeEventListener('abort', stopRead)
        }
      }),

      goOnChip: fromPromise(async ({ input, signal }: { input: CardInput; signal: AbortSignal }) =>
        goOnChip(paymentDeps(input.deviceId, signal), input.cardRef, input.amount),
      ),

      capturePin: fromPromise<void, CardInput>(async ({ input, signal }) => {
        await capturePin(paymentDeps(input.deviceId, signal), input.cardRef, input.amount)
      }),

      buildCardHash: fromPromise<{ cardHash: string }, HashInput>(async ({ input, signal }) => {
        const card = deps.vault.get(input.cardRef)
        if (!card) throw Object.assign(new Error('the card data is gone'), { code: 'MPOS_ERR_CARD_UNREADABLE' })
        try {
          const prefetched = cardHashKeys.get(input.deviceId)
          cardHashKeys.delete(input.deviceId)
          const key = await (prefetched ?? deps.acquirer.getCardHashKey(input.encryptionKey, { signal }))
          return { cardHash: createCardHash(card, key) }
        } finally {
          // The card hash exists (or never will): the card data goes.
          deps.vault.drop(input.cardRef)
        }
      }),

      finishChip: fromPromise<{ approved: boolean }, FinishInput>(async ({ input, signal }) =>
        finishChip(paymentDeps(input.deviceId, signal), input.contactless, input.finish),
      ),

      removeCard: fromPromise<void, LinkInput>(async ({ input, signal }) => {
        await removeCard(paymentDeps(input.deviceId, signal), 'RETIRE O CARTAO')
      }),

      cancelPinpad: fromPromise<void, LinkInput>(async ({ input, signal }) => {
        const c = connections.get(input.deviceId)
        // A stopped command is finishing its CAN/EOT: wait for it; with nothing running, a CAN of
        // our own. Either rejects when no EOT came (§2.2.2.3): the machine declares the pinpad
        // unresponsive instead of showing it as ready.
        await c.link.cancel()
        // Stopped meanwhile (close, unplug): the link belongs to the next state's actor now, and an
        // idle DSP sent anyway would take it from CLO (closeLink's CLO then failed as busy).
        if (signal.aborted) return
        await c.client.call('DSP', { DSP_MSG: idle }, { signal }).catch(() => {})
      }),

      displayMessage: fromPromise<void, MessageInput>(async ({ input, signal }) => {
        const c = connections.get(input.deviceId)
        if (!fitsDsp(input.message) && c.identity.abecs) {
          await c.client.call('DEX', { DEX_MSG: toDexMessage(input.message) }, { signal })
        } else {
          await c.client.call('DSP', { DSP_MSG: toDspMessage(input.message) }, { signal })
        }
      }),

      closeLink: fromPromise<void, MessageInput>(async ({ input }) => {
        const c = connections.find(input.deviceId)
        if (!c) return
        try {
          if (c.link.busy) await c.link.cancel().catch(() => {})
          if (!c.link.closed) await c.client.call('CLO', { CLO_MSG: toDspMessage(input.message) }).catch((err: unknown) => {
            if (!(err instanceof LinkCancelledError)) deps.logger.warn({ device: input.deviceId, code: (err as { code?: string }).code }, 'CLO failed')
          })
        } finally {
          await connections.close(input.deviceId)
        }
      }),
    },
  }
}
