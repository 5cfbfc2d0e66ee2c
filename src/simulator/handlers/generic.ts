/**
 * GEN (§3.8, obsolete; gone in 2.20) on the virtual pinpad: the key map search K3, EMV data after GCR
 * (03/02, 04/04), DUKPT:TDES:DAT#1 encryption (03/03), and ICC power, APDUs and card-verified PIN
 * (04/01–04/03) through the same slots as CHP.
 */
import { ST } from '../../abecs/return-codes.js'
import { parseTagList } from '../../abecs/emv-tlv.js'
import type { GenRequest, GenRequestOf, GenResponse } from '../../abecs/commands/index.js'
import { tdesEncryptEcb } from '../../crypto/des.js'
import { dataKey } from '../data-keys.js'
import type { KeyKind } from '../key-store.js'
import { capturePinForCard, pinForCard, poweredCard, powerOff, powerOn, slotStatus } from '../chip-slots.js'
import { ok, fail, type HandlerContext, type HandlerTable, type Reply } from './types.js'

const hex = (b: Buffer) => b.toString('hex').toUpperCase()
type R = Reply<GenResponse>

/** §3.8.1: G02K3_KEYTYPE × G02K3_KEYUSE → the key kind; there are no DUKPT:DES data keys (§5.1). */
const K3_KINDS: Record<string, KeyKind | undefined> = {
  '00': 'MK:DES:PIN',
  '01': 'MK:DES:DAT',
  '10': 'MK:TDES:PIN',
  '11': 'MK:TDES:DAT',
  '20': 'DUKPT:DES:PIN',
  '30': 'DUKPT:TDES:PIN',
  '31': 'DUKPT:TDES:DAT',
}

function k3(ctx: HandlerContext, req: GenRequestOf<'02/K3'>): R {
  const from = Number(req.G02K3_IDXINI)
  const to = Number(req.G02K3_IDXEND)
  if (from > to || !/^[0-3][01]$/.test(`${req.G02K3_KEYTYPE}${req.G02K3_KEYUSE}`)) return fail(ST.INVPARM)
  const kind = K3_KINDS[`${req.G02K3_KEYTYPE}${req.G02K3_KEYUSE}`]
  const map = kind ? ctx.pad.keys.keyMap(kind) : '2'.repeat(100)
  return ok({ G02K3_KEYST: map.slice(from, to + 1) })
}

/** 03/02 and 04/04: only after GCR/GOC/FNC of a chip card (§3.8.5, §3.8.6). */
function classicEmv(ctx: HandlerContext, tagsHex: string): Buffer | number {
  const s = ctx.pad.session
  if (!s?.emv || s.abecs) return ST.INVCALL
  return s.emv.tags(parseTagList(Buffer.from(tagsHex, 'hex')))
}

function g0303(ctx: HandlerContext, req: GenRequestOf<'03/03'>): R {
  const { pad } = ctx
  const input = Buffer.from(req.G0303_INPUT, 'hex')
  if (req.G0303_METHOD !== '3' || !input.length || input.length % 8) return fail(ST.INVPARM)
  const key = dataKey(pad.keys, { method: '30', keyIndex: Number(req.G0303_IDX) }, pad.identity.specVersion)
  if ('status' in key) return fail(key.status)
  const { cipher, ksn } = key.issue()
  // §3.8.7: in "PAN Criptografado" the input came through TDES⁻¹ under WKPAN.
  const clear = pad.wkpan ? tdesEncryptEcb(pad.wkpan, input) : input
  return ok({ G0303_KSN: hex(ksn!), G0303_OUTPUT: hex(cipher(clear)) })
}

/** §3.8.2: G0401_STAT "0" absent, "1" present, "2" mute, "3" active, "4" no reader. */
function g0401(ctx: HandlerContext, req: GenRequestOf<'04/01'>): R {
  const { pad } = ctx
  const slot = req.G0401_SLOT
  const answer = (stat: string, atr = '') => ok({ G0401_SLOT: slot, G0401_STAT: stat, G0401_ATRLEN: atr.length / 2, G0401_ATR: atr.padEnd(72, '0') })
  if (slot !== '0') return answer('4')
  if (!['1', '2', '3', '4'].includes(req.G0401_OPER)) return fail(ST.INVPARM)
  if (req.G0401_OPER === '3') {
    powerOff(pad, slot)
    return answer(pad.cardholder.inserted ? '1' : '0')
  }
  if (req.G0401_OPER === '4') {
    const card = poweredCard(pad, slot)
    return typeof card === 'number' ? answer(pad.cardholder.inserted ? '1' : '0') : answer('3', hex(card.atr))
  }
  const card = powerOn(pad, slot)
  if (card === ST.NOCARD) return answer('0')
  return typeof card === 'number' ? answer('2') : answer('3', hex(card.atr))
}

/** §3.8.3: the ICC must be on (GEN/04/01 or GCR, which powers it). */
function activeIcc(ctx: HandlerContext, slot: string) {
  if (slotStatus(ctx.pad, slot) !== ST.OK || slot === '9') return ST.NOCARD
  const card = poweredCard(ctx.pad, slot)
  return card === ST.ERRCARD ? powerOn(ctx.pad, slot) : card
}

function g0402(ctx: HandlerContext, req: GenRequestOf<'04/02'>): R {
  const card = activeIcc(ctx, req.G0402_SLOT)
  if (typeof card === 'number') return fail(card)
  const data = Buffer.from(req.G0402_CMDDAT, 'hex')
  const apdu = Buffer.concat([Buffer.from(req.G0402_APDU, 'hex'), data.length ? Buffer.of(data.length) : Buffer.alloc(0), data, req.G0402_LE ? Buffer.of(req.G0402_LE & 0xff) : Buffer.alloc(0)])
  const rapdu = card.transmit(apdu)
  return ok({ G0402_SLOT: req.G0402_SLOT, G0402_SW: hex(rapdu.subarray(-2)), G0402_RSPDAT: hex(rapdu.subarray(0, -2)) })
}

async function g0403(ctx: HandlerContext, req: GenRequestOf<'04/03'>): Promise<R> {
  const format = { '0': 'ISO0', '2': '1', A: 'A' }[req.G0403_FORMAT.toUpperCase()]
  if (!format || req.G0403_MIN < 4 || req.G0403_MAX > 12 || req.G0403_MIN > req.G0403_MAX) return fail(ST.INVPARM)
  const card = activeIcc(ctx, req.G0403_SLOT)
  if (typeof card === 'number') return fail(card)
  const pin = await capturePinForCard(ctx, req.G0403_PINMSG, req.G0403_MIN, req.G0403_MAX)
  if (pin === 'aborted') return 'aborted'
  if (typeof pin === 'number') return fail(pin)
  const block = pinForCard(format, pin, card.card.pan)!
  const rapdu = card.transmit(Buffer.concat([Buffer.from(req.G0403_APDU, 'hex'), Buffer.of(block.length), block]))
  return ok({ G0403_SLOT: req.G0403_SLOT, G0403_SW: hex(rapdu.subarray(-2)) })
}

export const genericHandlers: HandlerTable = {
  GEN: async (req: GenRequest, ctx): Promise<R> => {
    switch (req.GEN) {
      case '02/K3':
        return k3(ctx, req)
      case '03/02': {
        const data = classicEmv(ctx, req.G0302_TAGS)
        return typeof data === 'number' ? fail(data) : ok({ G0302_EMVDAT: hex(data) })
      }
      case '04/04': {
        const data = classicEmv(ctx, req.G0404_TAGS)
        return typeof data === 'number' ? fail(data) : ok({ G0404_EMVDAT: hex(data) })
      }
      case '03/03':
        return g0303(ctx, req)
      case '04/01':
        return g0401(ctx, req)
      case '04/02':
        return g0402(ctx, req)
      case '04/03':
        return g0403(ctx, req)
    }
  },
}
