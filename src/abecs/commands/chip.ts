/** §3.3.2 CHP: direct access to the ICC, a SAM or a contactless card (power, APDU, PIN verified by the card). */
import { Nd, S, lenH, record, Reader, type RecordOf } from '../fields.js'
import { MalformedPacketError } from '../../errors.js'
import type { CommandSpec } from './spec.js'

/** CHP_SLOT: "0" ICC, "1"–"8" SAM, "9" contactless. CHP_OPER: "0" off, "1" on, "2" APDU, "3" PIN verification. */
const CHP_HEAD = record({ CHP_SLOT: Nd(1), CHP_OPER: Nd(1), CHP_CMD: lenH(3, 260) })
const CHP_PIN = record({ CHP_PINFMT: Nd(1), CHP_PINMSG: S(32) })
const CHP_ANSWER = record({ CHP_RSP: lenH(3, 257) })

export type ChpRequest = RecordOf<typeof CHP_HEAD.fields> & Partial<RecordOf<typeof CHP_PIN.fields>>
export type ChpResponse = RecordOf<typeof CHP_ANSWER.fields>

export const CHP: CommandSpec<ChpRequest, ChpResponse> = {
  id: 'CHP',
  encodeRequest: ({ CHP_PINFMT, CHP_PINMSG, ...head }) => {
    const pin = head.CHP_OPER === '3' ? CHP_PIN.pack({ CHP_PINFMT: CHP_PINFMT ?? '1', CHP_PINMSG: CHP_PINMSG ?? '' }) : Buffer.alloc(0)
    return [Buffer.concat([CHP_HEAD.pack(head), pin])]
  },
  decodeRequest: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('CHP expects one block')
    const r = new Reader(blocks[0]!)
    const head = CHP_HEAD.decode(r, 'CHP command')
    // §6.5.2.1–6.5.2.3: CHP_PINFMT and CHP_PINMSG are ignored (and may be absent) unless CHP_OPER is "3".
    const pin = head.CHP_OPER === '3' ? CHP_PIN.decode(r, 'CHP command') : {}
    if (head.CHP_OPER === '3') r.expectEnd('CHP command')
    return { ...head, ...pin }
  },
  encodeResponse: (res) => [CHP_ANSWER.pack(res)],
  decodeResponse: (blocks) => {
    if (blocks.length !== 1) throw new MalformedPacketError('CHP response expects one block')
    return CHP_ANSWER.unpack(blocks[0]!, 'CHP response')
  },
}
