/** Control commands on the virtual pinpad (§6.4): GIN, GIX, CLO, CLX (OPN and DWK: session.ts). */
import { PP, PP_BY_ID, ksnTdesPinId, tabVerId } from '../../abecs/params.js'
import { encodeItemList } from '../../abecs/tlv.js'
import { ST } from '../../abecs/return-codes.js'
import { ok, type HandlerTable } from './types.js'
import { KEY_MAP_ITEMS } from '../key-store.js'
import type { VirtualPinpad } from '../virtual-pinpad.js'


/** Every item marked (†) in §3.1.3.2, in the order of the table. */
function identityItems(pad: VirtualPinpad): Array<[string, unknown]> {
  const id = pad.identity
  const ctls = id.contactless
  return [
    ['PP_SERNUM', id.serialNumber],
    ['PP_PARTNBR', id.partNumber],
    ['PP_MODEL', `${id.model};${id.memory}`.slice(0, 20)],
    ['PP_MNNAME', id.manufacturer],
    // 2.20 also says: ICC "1", magnetic tracks 1–3 "1", no SAM slot "9" (§3.1.3.2 in 2.20).
    ['PP_CAPAB', id.specVersion === '2.20' ? `${ctls ? 1 : 0}011900000` : `${ctls ? 1 : 0}000000000`],
    ['PP_SOVER', id.osVersion],
    ['PP_SPECVER', id.specVersion],
    ['PP_MANVERS', id.managerVersion],
    ['PP_APPVERS', id.appVersion],
    ['PP_GENVERS', id.appVersion],
    ['PP_KRNLVER', id.kernelVersion],
    ...(ctls
      ? ([
          ['PP_CTLSVER', 'VCTLS-1.0'],
          ['PP_MCTLSVER', 'MC3.1.3'],
          ['PP_VCTLSVER', 'VS2.2.3'],
          ['PP_AECTLSVER', 'AE4.1'],
          ['PP_DPCTLSVER', 'DC1.0'],
          ['PP_PUREVER', 'PURE1.0'],
        ] as Array<[string, unknown]>)
      : []),
    ['PP_DSPTXTSZ', '0216'],
    // A100 key maps (§3.1.3.2); 2.20 reserves the DES ones (8030h, 8031h, 8034h).
    ...KEY_MAP_ITEMS.filter(([, kind]) => !(id.specVersion === '2.20' && kind.includes(':DES:'))).map(
      ([name, kind]) => [name, pad.keys.keyMap(kind)] as [string, unknown],
    ),
    ['PP_TLRMEM', 65536],
  ]
}

export const controlHandlers: HandlerTable = {
  GIN: ({ GIN_ACQIDX }, { pad }) => {
    const id = pad.identity
    switch (GIN_ACQIDX) {
      case '00':
        return ok({
          layout: '00',
          GIN_MNAME: id.manufacturer,
          GIN_MODEL: `${id.model};${id.memory}`.slice(0, 19),
          GIN_CTLSSUP: id.contactless ? 'C' : '',
          GIN_SOVER: id.osVersion,
          GIN_SPECVER: id.specVersion,
          GIN_MANVER: id.managerVersion,
          GIN_SERNUM: id.serialNumber,
        })
      case '02':
        return ok({
          layout: '02',
          GIN_ACQNAM: 'Abecs',
          GIN_KRNLVER: id.kernelVersion.slice(0, 12),
          GIN_APPVERS: id.appVersion.slice(0, 13),
          GIN_SPECVER: id.specVersion,
          GIN_RUF1: '',
          GIN_RUF2: '00',
        })
      case '03':
        return ok({
          layout: '03',
          GIN_ACQNAM: 'Abecs',
          GIN_KRNLVER: id.kernelVersion.slice(0, 4),
          GIN_CTLSVER: id.contactless ? '1.00' : '',
          GIN_MCTLSVER: id.contactless ? '3.1' : '',
          GIN_VCTLSVER: id.contactless ? '2.2' : '',
          GIN_APPVERS: id.appVersion.slice(0, 13),
          GIN_SPECVER: id.specVersion,
          GIN_RUF3: '',
          GIN_DUKPT: pad.dukptKeyIndexes.includes(1) ? 'T' : '',
          GIN_RUF2: '00',
        })
      default:
        return ok({ layout: 'other', GIN_ACQNAME: 'Abecs', GIN_APPVERS: id.appVersion.slice(0, 13), GIN_SPECVER: id.specVersion, GIN_RUF1: '', GIN_RUF2: '00' })
    }
  },

  // §6.4.3: the items in the order asked (repeats included), unknown ids ignored. Without
  // SPE_IDLIST, every (†) item, as §3.2.4 and its example show.
  GIX: ({ SPE_IDLIST }, { pad }) => {
    const all = identityItems(pad)
    const byName = new Map(all)
    const entries: Array<[string, unknown]> = []
    for (const id of SPE_IDLIST ?? all.map(([name]) => PP_ID[name]!)) {
      const name = PP_BY_ID.get(id)
      if (!name) continue
      const value = byName.has(name) ? byName.get(name) : dynamicItem(pad, id)
      if (value !== undefined) entries.push([name, value])
    }
    return { status: ST.OK, blocks: encodeItemList(entries, PP) }
  },

  // §6.4.5: the display keeps the message; tracks kept for GTK are erased.
  CLO: ({ CLO_MSG }, { pad }) => {
    pad.close()
    pad.display.show2x16(CLO_MSG, 'CLO')
    return ok()
  },

  CLX: ({ SPE_DSPMSG }, { pad }) => {
    pad.close()
    if (SPE_DSPMSG) pad.display.showFree(SPE_DSPMSG, 'CLX')
    else pad.display.clear('CLX')
    return ok()
  },
}

const PP_ID: Record<string, number> = Object.fromEntries([...PP_BY_ID].map(([id, name]) => [name, id]))

/** KSNs and table versions, asked for by index (PP_KSNTDESPnn, PP_KSNTDESDnn, PP_TABVERnn). */
function dynamicItem(pad: VirtualPinpad, id: number): unknown {
  if (id >= 0x9100 && id <= 0x9163) {
    const index = id - ksnTdesPinId(0)
    return pad.currentKsn(index)
  }
  if (id >= 0x9200 && id <= 0x9263) {
    const found = pad.keys.dukpt('DUKPT:TDES:DAT', id - 0x9200)
    return 'key' in found ? found.key.ksn : undefined
  }
  if (id >= 0x9300 && id <= 0x9363) return pad.tables.version(id - tabVerId(0))
  return undefined
}

