/** "Abecs" card processing (§3.7): GCX, GED, GOX, FCX. */
import type { PpData, SpeParams } from '../params.js'
import { tlvCommand } from './spec.js'

/** §3.7.1: waits for a card (magstripe, ICC or, with SPE_GCXOPT "1xxxx", contactless). */
export const GCX = tlvCommand<
  Pick<
    SpeParams,
    | 'SPE_TRNTYPE'
    | 'SPE_ACQREF'
    | 'SPE_APPTYPE'
    | 'SPE_AIDLIST'
    | 'SPE_AMOUNT'
    | 'SPE_CASHBACK'
    | 'SPE_TRNCURR'
    | 'SPE_TRNDATE'
    | 'SPE_TRNTIME'
    | 'SPE_GCXOPT'
    | 'SPE_PANMASK'
    | 'SPE_EMVDATA'
    | 'SPE_TAGLIST'
    | 'SPE_TIMEOUT'
    | 'SPE_DSPMSG'
  >,
  PpData
>('GCX', { request: ['SPE_TRNDATE', 'SPE_TRNTIME'], response: ['PP_CARDTYPE'] })

/** §3.7.2 */
export const GED = tlvCommand<Pick<SpeParams, 'SPE_TAGLIST'>, PpData>('GED', {
  request: ['SPE_TAGLIST'],
  response: ['PP_EMVDATA'],
})

/** §3.7.3: chip processing; may capture the PIN (online or offline). */
export const GOX = tlvCommand<
  Pick<
    SpeParams,
    | 'SPE_ACQREF'
    | 'SPE_TRNTYPE'
    | 'SPE_AMOUNT'
    | 'SPE_CASHBACK'
    | 'SPE_TRNCURR'
    | 'SPE_GOXOPT'
    | 'SPE_MTHDPIN'
    | 'SPE_KEYIDX'
    | 'SPE_WKENC'
    | 'SPE_DSPMSG'
    | 'SPE_TRMPAR'
    | 'SPE_EMVDATA'
    | 'SPE_TAGLIST'
    | 'SPE_TIMEOUT'
  >,
  PpData
>('GOX', { request: ['SPE_ACQREF', 'SPE_MTHDPIN', 'SPE_KEYIDX'], response: ['PP_GOXRES'] })

/** §3.7.4: finishes the chip transaction with the acquirer's answer. */
export const FCX = tlvCommand<
  Pick<SpeParams, 'SPE_FCXOPT' | 'SPE_ARC' | 'SPE_EMVDATA' | 'SPE_TAGLIST' | 'SPE_TIMEOUT'>,
  PpData
>('FCX', { request: ['SPE_FCXOPT'], response: ['PP_FCXRES'] })
