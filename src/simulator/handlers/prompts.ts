/**
 * Prompts on the virtual pinpad: GCD (§6.5.8: clear data under a fixed message, shown as typed) and
 * MNU (§6.5.13: a menu; arrows move, OK picks, or the cardholder chooses an option directly). Both
 * clear the display when they end; CANCEL is ST_CANCEL, SPE_TIMEOUT of inactivity ST_TIMEOUT.
 */
import { ST } from '../../abecs/return-codes.js'
import { GCD_MESSAGES } from '../../abecs/gcd-messages.js'
import { MNU_MAX_OPTIONS } from '../../abecs/commands/index.js'
import { inactivityMs, withTimeout } from './wait.js'
import { ok, fail, type HandlerTable } from './types.js'

export const promptHandlers: HandlerTable = {
  GCD: async (p, { pad, signal }) => {
    const message = GCD_MESSAGES.get(p.SPE_MSGIDX!)
    const min = p.SPE_MINDIG ?? 0
    const max = p.SPE_MAXDIG ?? 32
    if (!message || min > 32 || max < 1 || max > 32 || max < min) return fail(ST.INVPARM)
    // 2.20's SPE_GCDOPT "1xxx" lets letters in; a 2.12 pinpad ignores the parameter (§3.1.3.1).
    const alphanumeric = pad.identity.specVersion === '2.20' && p.SPE_GCDOPT?.[0] === '1'
    const valid = (text: string) => text.length >= min && text.length <= max && (alphanumeric ? /^[\x20-\x7e]*$/ : /^\d*$/).test(text)
    pad.display.showFree(message, 'GCD')
    try {
      for (;;) {
        const action = await withTimeout(pad.clock, signal, inactivityMs(pad, p.SPE_TIMEOUT), (s) => pad.cardholder.waitForData(s))
        if (action === 'aborted') return 'aborted'
        if (action === 'timeout') return fail(ST.TIMEOUT)
        if (action.type === 'key') {
          if (action.key === 'cancel') return fail(ST.CANCEL)
          continue
        }
        // The keypad accepts OK only with an entry of the allowed size: anything else is not confirmed.
        if (valid(action.text)) return ok({ PP_VALUE: action.text })
      }
    } finally {
      pad.display.clear('GCD')
    }
  },

  MNU: async (p, { pad, signal }) => {
    const options = p.options
    if (!options.length) return fail(ST.MANDAT)
    if (options.length > MNU_MAX_OPTIONS) return fail(ST.INVPARM)
    let highlighted = 1
    const show = () =>
      pad.display.showFree([...(p.SPE_DSPMSG ? [p.SPE_DSPMSG] : []), ...options.map((o, i) => `${i + 1 === highlighted ? '>' : ' '}${o}`)].join('\r'), 'MNU')
    show()
    try {
      for (;;) {
        const action = await withTimeout(pad.clock, signal, inactivityMs(pad, p.SPE_TIMEOUT), (s) => pad.cardholder.waitForChoice(s))
        if (action === 'aborted') return 'aborted'
        if (action === 'timeout') return fail(ST.TIMEOUT)
        if (action.type === 'choice') {
          if (action.option >= 1 && action.option <= options.length) return ok({ PP_VALUE: String(action.option).padStart(2, '0') })
          continue
        }
        if (action.key === 'cancel') return fail(ST.CANCEL)
        if (action.key === 'ok') return ok({ PP_VALUE: String(highlighted).padStart(2, '0') })
        if (action.key === 'up') highlighted = Math.max(1, highlighted - 1)
        if (action.key === 'down') highlighted = Math.min(options.length, highlighted + 1)
        show()
      }
    } finally {
      pad.display.clear('MNU')
    }
  },
}
