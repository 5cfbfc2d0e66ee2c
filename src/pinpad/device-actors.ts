/**
 * The real actors and actions the device machine invokes (machines/device.machine.ts): each a
 * pinpad step on the open Pinpad it is given, stopped (and so cancelled on the wire) when the
 * machine leaves the state that invoked it.
 */
import { fromCallback, fromPromise } from 'xstate'
import type {
  CardInput,
  DeviceContext,
  DeviceEvent,
  FinishInput,
  HashInput,
  InputPromptInput,
  KeyInput,
  MenuInput,
  MessageInput,
  OpenInput,
  PinpadInput,
  ReadCardInput,
  SyncInput,
} from '../../machines/device.machine.js'
import { DEFAULT_PAYMENT_TIMEOUT_MS, type CardHashKeyRef, type InputResult, type MenuResult, type PinpadHandle, type ReadCardOutput } from '../../machines/types.js'
import { CardHashKeyInvalidError, LinkCancelledError, UnreadableCardError } from '../errors.js'
import type { CardVault } from '../card/vault.js'
import type { AcquirerClient } from '../acquirer/client.js'
import type { TablesStore } from '../tables/store.js'
import { syncTables } from '../tables/sync.js'
import { createCardHash } from '../card/card-hash.js'
import type { Logger } from '../log.js'
import type { OpenPinpadDeps } from './open.js'
import type { Pinpad } from './pinpad.js'
import { cardOf } from './card-data.js'
import { capturePin, loadTables, removeCard, showText } from './steps.js'
import { toDspMessage } from './display-text.js'
import { systemClock } from '../clock.js'
import { chooseOption, enterData } from './prompts.js'

export interface DeviceActorDeps extends OpenPinpadDeps {
  vault: CardVault
  acquirer: Pick<AcquirerClient, 'getCardHashKey' | 'getTerminalUpdates'>
  tablesStore: TablesStore
  logger: Logger
  /** Shown when the pinpad is idle (DSP, 2×16). */
  idleMessage?: string
  /** How long a fetched card-hash key serves the payments of a pinpad session (default 5 min). */
  cardHashKeyMaxAgeMs?: number
}

export const CARD_HASH_KEY_MAX_AGE_MS = 5 * 60_000

let opener: Promise<typeof import('./open.js')> | undefined
/**
 * The ABECS stack (link, client, command modules, dialects), loaded once: by the first open, or
 * earlier by the runtime's start (src/bridge/runtime.ts `loadOnFirstOpen`).
 */
export const loadPinpadStack = (): Promise<typeof import('./open.js')> => (opener ??= import('./open.js'))

/** The machine holds the handle; the actors work on the object behind it. */
const open = (handle: PinpadHandle): Pinpad => handle as Pinpad

export function createDeviceActors(deps: DeviceActorDeps) {
  const idle = deps.idleMessage ?? 'MPOS BRIDGE PRONTO'
  const clock = deps.clock ?? systemClock
  const keyMaxAge = deps.cardHashKeyMaxAgeMs ?? CARD_HASH_KEY_MAX_AGE_MS
  // The card-hash key of each pinpad session (one initialize): fetched by its first payment, reused
  // by the next ones until it is too old or the card hash could not be made with it.
  const keys = new WeakMap<PinpadHandle, { encryptionKey: string; key: CardHashKeyRef; at: number }>()
  const refused = new WeakSet<CardHashKeyRef>()
  /** The key kept for this pinpad session and encryption key, while it is young enough and was not refused. */
  const keptKey = (pinpad: PinpadHandle | undefined, encryptionKey: string): CardHashKeyRef | undefined => {
    const kept = pinpad && keys.get(pinpad)
    return kept && kept.encryptionKey === encryptionKey && clock.now() - kept.at < keyMaxAge && !refused.has(kept.key) ? kept.key : undefined
  }

  return {
    guards: {
      /** The device machine uses the key it kept (no fetchCardHashKey step) while it is the good one kept here. */
      keyKept: ({ context }: { context: DeviceContext }) =>
        context.cardHashKey !== undefined && keptKey(context.pinpad, context.connect.encryptionKey) === context.cardHashKey,
    },
    actions: {
      /** The pinpad stopped answering: its port is closed without CAN or CLO (nothing would come back). */
      abandonLink: (_: unknown, pinpad: PinpadHandle) => void open(pinpad).close(),
      dropCard: (_: unknown, cardRef: string | undefined) => {
        if (cardRef) deps.vault.drop(cardRef)
      },
    },

    actors: {
      openPinpad: fromPromise<PinpadHandle, OpenInput>(async ({ input, signal }) => {
        const { openPinpad } = await loadPinpadStack()
        // Stopped while the stack loaded (the first open only): nothing was opened.
        if (signal.aborted) throw new LinkCancelledError('OPN')
        const pinpad = await openPinpad(
          deps,
          {
            deviceId: input.deviceId,
            ...(input.baudRate ? { baudRate: input.baudRate } : {}),
            ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
            ...(input.secureSession ? { secureSession: true } : {}),
          },
          signal,
        )
        // Stopped (closed) while it opened: nobody will hold it, so it is closed here.
        if (signal.aborted) {
          await pinpad.close()
          throw new LinkCancelledError('OPN')
        }
        return pinpad
      }),

      watchLink: fromCallback<DeviceEvent, PinpadInput>(({ input, sendBack }) => {
        const { link } = open(input.pinpad)
        if (link.closed) {
          sendBack({ type: 'LINK.CLOSED', reason: 'the link is not open' })
          return () => {}
        }
        const onClosed = (reason: string) => sendBack({ type: 'LINK.CLOSED', reason })
        const onNote = ({ message }: { message: string }) => sendBack({ type: 'PINPAD.PROMPT', message })
        link.on('closed', onClosed)
        link.on('notification', onNote)
        return () => {
          link.off('closed', onClosed)
          link.off('notification', onNote)
        }
      }),

      syncTables: fromPromise<{ tablesVersion: string; loaded: boolean }, SyncInput>(async ({ input, signal }) => {
        const pinpad = open(input.pinpad)
        const synced = await syncTables({
          client: deps.acquirer,
          store: deps.tablesStore,
          encryptionKey: input.encryptionKey,
          pinpadModel: pinpad.identity.model,
          dukptKeys: pinpad.identity.dukptKeys,
          signal,
        })
        pinpad.tables = synced.tables
        const current = await pinpad.dialect.tablesVersion(pinpad, signal)
        const loaded = input.force || current !== synced.version
        if (loaded) await loadTables(pinpad, synced.tables, signal)
        deps.logger.info({ device: pinpad.deviceId, version: synced.version, loaded, stale: synced.stale }, 'EMV tables in sync')
        return { tablesVersion: synced.version, loaded }
      }),

      showIdle: fromPromise<void, PinpadInput>(async ({ input, signal }) => showText(open(input.pinpad), idle, signal)),

      readCard: fromPromise<ReadCardOutput, ReadCardInput>(async ({ input, signal }) => {
        const pinpad = open(input.pinpad)
        // The customer's time starts with the first read (a 020 reload resumes the same payment).
        if (!input.resume) pinpad.customerDeadline = clock.now() + (input.payment.timeout_milliseconds ?? DEFAULT_PAYMENT_TIMEOUT_MS)
        return pinpad.dialect.readCard(pinpad, input.payment, input.resume, signal)
      }),

      fetchCardHashKey: fromPromise<CardHashKeyRef, KeyInput>(async ({ input, signal }) => {
        const kept = keptKey(input.pinpad, input.encryptionKey)
        if (kept) return kept
        keys.delete(input.pinpad)
        const key = await deps.acquirer.getCardHashKey(input.encryptionKey, { signal })
        keys.set(input.pinpad, { encryptionKey: input.encryptionKey, key, at: clock.now() })
        return key
      }),

      goOnChip: fromPromise(async ({ input, signal }: { input: CardInput; signal: AbortSignal }) => {
        const pinpad = open(input.pinpad)
        return pinpad.dialect.goOnChip(pinpad, cardOf(pinpad.vault, input.cardRef), input.amount, signal)
      }),

      capturePin: fromPromise<void, CardInput>(async ({ input, signal }) => capturePin(open(input.pinpad), input.cardRef, input.amount, signal)),

      buildCardHash: fromPromise<{ cardHash: string }, HashInput>(async ({ input }) => {
        const card = deps.vault.get(input.cardRef)
        if (!card) throw new UnreadableCardError('the card data is gone')
        try {
          return { cardHash: createCardHash(card, input.key) }
        } catch (err) {
          // The next payment asks the acquirer for a key again.
          if (err instanceof CardHashKeyInvalidError) refused.add(input.key)
          throw err
        } finally {
          // The card hash exists (or never will): the card data goes.
          deps.vault.drop(input.cardRef)
        }
      }),

      finishChip: fromPromise<{ approved: boolean }, FinishInput>(async ({ input, signal }) => {
        const pinpad = open(input.pinpad)
        return pinpad.dialect.finishChip(pinpad, input.contactless, input.finish, signal)
      }),

      removeCard: fromPromise<void, PinpadInput>(async ({ input, signal }) => removeCard(open(input.pinpad), 'RETIRE O CARTAO', signal)),

      cancelPinpad: fromPromise<void, PinpadInput>(async ({ input, signal }) => {
        const pinpad = open(input.pinpad)
        // A stopped command is finishing its CAN/EOT: wait for it; with nothing running, a CAN of
        // our own. Either rejects when no EOT came (§2.2.2.3): the machine declares the pinpad
        // unresponsive instead of showing it as ready.
        await pinpad.link.cancel()
        // Stopped meanwhile (close, unplug): the link belongs to the next state's actor now, and an
        // idle DSP sent anyway would take it from CLO.
        if (signal.aborted) return
        await showText(pinpad, idle, signal).catch(() => {})
      }),

      displayMessage: fromPromise<void, MessageInput>(async ({ input, signal }) => {
        const pinpad = open(input.pinpad)
        await pinpad.dialect.display(pinpad, input.message, signal)
      }),

      chooseOption: fromPromise<MenuResult, MenuInput>(async ({ input, signal }) => chooseOption(open(input.pinpad), input.menu, signal)),

      // The customer's data goes back to the machine's owner only: nothing here logs it.
      enterData: fromPromise<InputResult, InputPromptInput>(async ({ input, signal }) => enterData(open(input.pinpad), input.input, signal)),

      closeLink: fromPromise<void, MessageInput>(async ({ input }) => {
        const pinpad = open(input.pinpad)
        try {
          if (pinpad.link.busy) await pinpad.link.cancel().catch(() => {})
          if (!pinpad.closed) {
            await pinpad.client.call('CLO', { CLO_MSG: toDspMessage(input.message) }).catch((err: unknown) => {
              if (!(err instanceof LinkCancelledError)) deps.logger.warn({ device: pinpad.deviceId, code: (err as { code?: string }).code }, 'CLO failed')
            })
          }
        } finally {
          await pinpad.close()
        }
      }),
    },
  }
}
