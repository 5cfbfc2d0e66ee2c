/**
 * Commands that set up how the pinpad protects what crosses the wire: OPN in both forms (§3.2.1
 * classic, §3.2.2 secure: the host's RSA key in, KSEC under it out) and DWK (§3.2.5, the obsolete
 * "PAN Criptografado" key WKPAN).
 */
import { H, Nd, lenH, record, Reader, type RecordOf } from '../fields.js'
import { MalformedPacketError } from '../../errors.js'
import type { CommandSpec } from './spec.js'

const nonEmpty = (blocks: readonly Buffer[]) => blocks.filter((b) => b.length > 0)

function single(blocks: readonly Buffer[], what: string): Buffer | undefined {
  const data = nonEmpty(blocks)
  if (data.length > 1) throw new MalformedPacketError(`${what} expects at most 1 data block, got ${data.length}`)
  return data[0]
}

// §3.2.2: OPN_OPMODE N1, OPN_MODLEN N3 + OPN_MOD H512, OPN_EXPLEN N1 + OPN_EXP H..6.
const OPN_SECURE = record({ OPN_OPMODE: Nd(1), OPN_MOD: lenH(3, 256), OPN_EXP: lenH(1, 3) })
const OPN_ANSWER = record({ OPN_CRKSEC: lenH(3, 256) })

/** Nothing for the classic form (§3.2.1); the host's RSA public key for the secure one (§3.2.2). */
export type OpnRequest = Partial<RecordOf<typeof OPN_SECURE.fields>>
/** OPN_CRKSEC: KSEC under the host's key (§5.2.1); absent when the pinpad is not an Abecs one. */
export type OpnResponse = { OPN_CRKSEC?: string }

export const isSecureOpn = (req: OpnRequest): req is RecordOf<typeof OPN_SECURE.fields> => req.OPN_MOD !== undefined

export const OPN: CommandSpec<OpnRequest, OpnResponse> = {
  id: 'OPN',
  encodeRequest: (req) => (isSecureOpn(req) ? [OPN_SECURE.pack(req)] : []),
  decodeRequest: (blocks) => {
    const block = single(blocks, 'OPN command')
    return block ? OPN_SECURE.unpack(block, 'OPN command') : {}
  },
  encodeResponse: (res) => (res.OPN_CRKSEC === undefined ? [] : [OPN_ANSWER.pack({ OPN_CRKSEC: res.OPN_CRKSEC })]),
  decodeResponse: (blocks) => {
    const block = single(blocks, 'OPN response')
    return block ? OPN_ANSWER.unpack(block, 'OPN response') : {}
  },
}

// §3.2.5 DWK: modality 1 (WKPAN under a data MK) or 2 (WKPAN drawn by the pinpad, under the host's RSA key).
const DWK_1 = record({ DWK_METHOD: Nd(1), DWK_MKIDX: Nd(2), DWK_WKPAN: H(32) })
const DWK_2 = record({ DWK_RSAMOD: H(256), DWK_RSAEXP: H(6) })
const DWK_ANSWER = record({ DWK_CRYPT: H(256) })

export type DwkRequest = ({ DWK_MODE: '1' } & RecordOf<typeof DWK_1.fields>) | ({ DWK_MODE: '2' } & RecordOf<typeof DWK_2.fields>)
export type DwkResponse = { DWK_CRYPT?: string }

export const DWK: CommandSpec<DwkRequest, DwkResponse> = {
  id: 'DWK',
  encodeRequest: (req) => {
    const { DWK_MODE, ...rest } = req
    const body = DWK_MODE === '1' ? DWK_1.pack(rest as never) : DWK_2.pack(rest as never)
    return [Buffer.concat([Buffer.from(DWK_MODE, 'latin1'), body])]
  },
  decodeRequest: (blocks) => {
    const block = single(blocks, 'DWK command')
    if (!block) throw new MalformedPacketError('DWK command has no data')
    const r = new Reader(block)
    const mode = Nd(1).decode(r, 'DWK_MODE')
    if (mode === '1') return { DWK_MODE: mode, ...DWK_1.unpack(r.rest(), 'DWK command') }
    if (mode === '2') return { DWK_MODE: mode, ...DWK_2.unpack(r.rest(), 'DWK command') }
    throw new MalformedPacketError(`DWK_MODE ${mode} is not 1 or 2`)
  },
  encodeResponse: (res) => (res.DWK_CRYPT === undefined ? [] : [DWK_ANSWER.pack({ DWK_CRYPT: res.DWK_CRYPT })]),
  decodeResponse: (blocks, req) => {
    const block = single(blocks, 'DWK response')
    if (req.DWK_MODE === '2' && !block) throw new MalformedPacketError('DWK modality 2 answer lacks DWK_CRYPT')
    return block ? DWK_ANSWER.unpack(block, 'DWK response') : {}
  },
}
