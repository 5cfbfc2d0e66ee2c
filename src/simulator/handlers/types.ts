import type { COMMANDS, RequestOf, ResponseOf } from '../../abecs/commands/index.js'
import type { VirtualPinpad } from '../virtual-pinpad.js'

export interface HandlerContext {
  pad: VirtualPinpad
  /** Aborted by CAN or by a new command (§6.2.1). */
  signal: AbortSignal
  /** Sends an NTM notification (2×16 text) while a blocking command runs (§2.3.3). */
  notify: (message: string) => void
}

/**
 * RSP_STAT and, for 000 (or an answer status), the response fields — or already encoded
 * blocks where the layout alone cannot say it (GIX answers in the order asked, repeats included).
 */
export type Reply<R> = { status: number; response?: R; blocks?: Buffer[] } | 'aborted'

type Commands = typeof COMMANDS
export type Handler<C extends keyof Commands> = (
  request: RequestOf<Commands[C]>,
  context: HandlerContext,
) => Reply<ResponseOf<Commands[C]>> | Promise<Reply<ResponseOf<Commands[C]>>>

export type HandlerTable = { [C in keyof Commands]?: Handler<C> }

export const ok = <R>(response?: R): Reply<R> => (response === undefined ? { status: 0 } : { status: 0, response })
export const fail = (status: number): Reply<never> => ({ status })

/**
 * EMV data an answer may carry: PP_EMVDATA is B..512 (§3.1.3.2), GOC_EMVDAT and FNC_EMVDAT 512
 * bytes (§3.6.3, §3.6.4). A tag list asking for more is answered ST_RSPOVRFL (§3.7.1–3.7.4).
 */
export const MAX_EMV_DATA = 512
