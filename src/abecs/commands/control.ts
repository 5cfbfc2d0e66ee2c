/** Control commands (§3.2): GIN, GIX, CLO, CLX (OPN and DWK are in session.ts). */
import { A, Nd, S, record, type RecordOf } from '../fields.js'
import { MalformedPacketError } from '../../errors.js'
import type { PpData, SpeParams } from '../params.js'
import { classic, tlvCommand, type CommandSpec } from './spec.js'

/** §3.2.6: CLO leaves a 2×16 message on the display. */
export const CLO = classic('CLO', record({ CLO_MSG: S(32) }), null)

/** §3.2.7 */
export const CLX = tlvCommand<Pick<SpeParams, 'SPE_DSPMSG' | 'SPE_MFNAME'>, PpData>('CLX')

/** §3.2.4: without SPE_IDLIST the pinpad returns every item marked (†). */
export const GIX = tlvCommand<Pick<SpeParams, 'SPE_IDLIST'>, PpData>('GIX')

// §3.2.3 GIN: the answer's layout depends on GIN_ACQIDX.
export const GIN_00 = record({
  GIN_MNAME: A(20),
  GIN_MODEL: A(19),
  GIN_CTLSSUP: A(1),
  GIN_SOVER: A(20),
  GIN_SPECVER: A(4),
  GIN_MANVER: A(16),
  GIN_SERNUM: A(20),
})
export const GIN_02 = record({
  GIN_ACQNAM: A(8),
  GIN_KRNLVER: A(12),
  GIN_APPVERS: A(13),
  GIN_SPECVER: A(4),
  GIN_RUF1: A(3),
  GIN_RUF2: Nd(2),
})
export const GIN_03 = record({
  GIN_ACQNAM: A(6),
  GIN_KRNLVER: A(4),
  GIN_CTLSVER: A(4),
  GIN_MCTLSVER: A(3),
  GIN_VCTLSVER: A(3),
  GIN_APPVERS: A(13),
  GIN_SPECVER: A(4),
  GIN_RUF3: A(2),
  GIN_DUKPT: A(1),
  GIN_RUF2: Nd(2),
})
export const GIN_OTHER = record({
  GIN_ACQNAME: A(20),
  GIN_APPVERS: A(13),
  GIN_SPECVER: A(4),
  GIN_RUF1: A(3),
  GIN_RUF2: Nd(2),
})
const GIN_REQUEST = record({ GIN_ACQIDX: Nd(2) })

export type GinRequest = RecordOf<typeof GIN_REQUEST.fields>
export type GinResponse =
  | ({ layout: '00' } & RecordOf<typeof GIN_00.fields>)
  | ({ layout: '02' } & RecordOf<typeof GIN_02.fields>)
  | ({ layout: '03' } & RecordOf<typeof GIN_03.fields>)
  | ({ layout: 'other' } & RecordOf<typeof GIN_OTHER.fields>)

function ginLayout(index: string) {
  switch (index) {
    case '00':
      return { layout: '00', codec: GIN_00 } as const
    case '02':
      return { layout: '02', codec: GIN_02 } as const
    case '03':
      return { layout: '03', codec: GIN_03 } as const
    default:
      return { layout: 'other', codec: GIN_OTHER } as const
  }
}

export const GIN: CommandSpec<GinRequest, GinResponse> = {
  id: 'GIN',
  encodeRequest: (req) => [GIN_REQUEST.pack(req)],
  decodeRequest: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('GIN expects one block')
    return GIN_REQUEST.unpack(blocks[0]!, 'GIN command')
  },
  encodeResponse: (res, req) => {
    const { codec } = ginLayout(req.GIN_ACQIDX)
    const { layout: _, ...fields } = res
    return [codec.pack(fields as never)]
  },
  decodeResponse: (blocks, req) => {
    const { layout, codec } = ginLayout(req.GIN_ACQIDX)
    if (blocks.length !== 1) throw new MalformedPacketError(`GIN response expects one block, got ${blocks.length}`)
    return { layout, ...codec.unpack(blocks[0]!, `GIN ${req.GIN_ACQIDX} response`) } as GinResponse
  },
}
