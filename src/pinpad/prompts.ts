/**
 * Customer prompts on a 2.x pinpad (the device's `prompting` state): a menu to pick from (MNU,
 * §3.3.13) and clear data typed under a fixed message (GCD, §3.3.8). Both are blocking "Abecs"
 * commands: the caller's signal cancels them on the wire (CAN/EOT, §2.2.2.3). What GCD returns is
 * the customer's data: it is handed back to the caller and never logged.
 */
import type { InputRequest, InputResult, MenuRequest, MenuResult } from '../../machines/types.js'
import { GCD_PROMPTS } from '../abecs/gcd-messages.js'
import { InvalidFieldError, MalformedResponseError } from '../errors.js'
import { speTimeout } from './dialects/abecs.js'
import type { Pinpad } from './pinpad.js'

type Timed<R> = R & { timeoutMs: number }

/** SPE_DSPMSG breaks lines with CR (0Dh, §3.1.3); the `/ws` title may use "\n". */
const displayText = (text: string) => text.replace(/\r?\n/g, '\r')

/** MNU: the options in the order given; PP_VALUE is the 1-based index of the one picked (§3.3.13). */
export async function chooseOption(pinpad: Pinpad, menu: Timed<MenuRequest>, signal?: AbortSignal): Promise<MenuResult> {
  const res = await pinpad.client.call(
    'MNU',
    {
      SPE_TIMEOUT: speTimeout(menu.timeoutMs / 1000),
      ...(menu.title ? { SPE_DSPMSG: displayText(menu.title) } : {}),
      options: menu.options,
    },
    pinpad.options(signal),
  )
  const picked = /^\d{2}$/.test(res.PP_VALUE ?? '') ? Number(res.PP_VALUE) : 0
  if (picked < 1 || picked > menu.options.length) throw new MalformedResponseError('MNU', `PP_VALUE ${JSON.stringify(res.PP_VALUE)} is no option of ${menu.options.length}`)
  return { index: picked - 1, option: menu.options[picked - 1]! }
}

/** GCD: the message chosen by name from the fixed table, the digits allowed, the customer's time (§3.3.8). */
export async function enterData(pinpad: Pinpad, input: Timed<InputRequest>, signal?: AbortSignal): Promise<InputResult> {
  const index = GCD_PROMPTS.get(input.prompt)
  if (index === undefined) throw new InvalidFieldError('prompt', `no message of GCD's table is named ${JSON.stringify(input.prompt)}`)
  const res = await pinpad.client.call(
    'GCD',
    {
      SPE_MSGIDX: index,
      ...(input.min_digits !== undefined ? { SPE_MINDIG: input.min_digits } : {}),
      ...(input.max_digits !== undefined ? { SPE_MAXDIG: input.max_digits } : {}),
      SPE_TIMEOUT: speTimeout(input.timeoutMs / 1000),
    },
    pinpad.options(signal),
  )
  return { value: res.PP_VALUE ?? '' }
}
