/** Cardholder prompts (§3.3.8 GCD: clear data under a fixed message; §3.3.13 MNU: a menu of up to 20 options). */
import type { PpData, SpeParams } from '../params.js'
import { SPE, SPE_BY_ID, PP, PP_BY_ID } from '../params.js'
import { decodeItems, encodeItemList, itemValues } from '../tlv.js'
import { MalformedPacketError } from '../../errors.js'
import { Reader } from '../fields.js'
import { tlvCommand, type CommandSpec } from './spec.js'

/** §3.3.8: PP_VALUE is what was typed (digits; 2.20's SPE_GCDOPT "1xxx" allows letters). */
export const GCD = tlvCommand<Pick<SpeParams, 'SPE_MSGIDX' | 'SPE_MINDIG' | 'SPE_MAXDIG' | 'SPE_TIMEOUT' | 'SPE_GCDOPT'>, PpData>('GCD', {
  request: ['SPE_MSGIDX'],
  response: ['PP_VALUE'],
})

export const MNU_MAX_OPTIONS = 20

/** §3.3.13: SPE_MNUOPT repeats, one item per option, in the order shown. */
export type MnuRequest = Pick<SpeParams, 'SPE_TIMEOUT' | 'SPE_DSPMSG'> & { options: string[] }

const optionCodec = SPE.SPE_MNUOPT.codec

export const MNU: CommandSpec<MnuRequest, PpData> & { readonly mandatory: { request: string[] } } = {
  id: 'MNU',
  // ST_MANDAT is for no option at all (§6.5.13); it is checked on `options`.
  mandatory: { request: [] },
  encodeRequest: ({ options, SPE_TIMEOUT, SPE_DSPMSG }) =>
    encodeItemList(
      [['SPE_TIMEOUT', SPE_TIMEOUT], ...options.map((o) => ['SPE_MNUOPT', o] as const), ['SPE_DSPMSG', SPE_DSPMSG]],
      SPE,
    ),
  decodeRequest: (blocks) => {
    const { values } = decodeItems<Pick<SpeParams, 'SPE_TIMEOUT' | 'SPE_DSPMSG'>>(blocks, SPE_BY_ID, SPE)
    const options = itemValues(blocks, SPE.SPE_MNUOPT.id).map((v, i) => optionCodec.decode(new Reader(v), `SPE_MNUOPT[${i}]`))
    const { SPE_TIMEOUT, SPE_DSPMSG } = values
    return { ...(SPE_TIMEOUT !== undefined ? { SPE_TIMEOUT } : {}), ...(SPE_DSPMSG !== undefined ? { SPE_DSPMSG } : {}), options }
  },
  encodeResponse: (res) => encodeItemList(Object.entries(res), PP),
  decodeResponse: (blocks) => {
    const { values } = decodeItems<PpData>(blocks, PP_BY_ID, PP)
    if (values.PP_VALUE === undefined) throw new MalformedPacketError('MNU response lacks mandatory PP_VALUE')
    return values
  },
}
