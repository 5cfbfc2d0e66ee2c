/**
 * A command's two sides in one object: the host encodes requests and decodes responses, the
 * virtual pinpad does the opposite with the same layouts.
 */
import { MalformedPacketError } from '../../errors.js'
import { decodeItems, encodeItems } from '../tlv.js'
import { PP, PP_BY_ID, SPE, SPE_BY_ID, type PpData, type SpeParams } from '../params.js'
import type { Fields, RecordCodec, RecordOf } from '../fields.js'

export interface CommandSpec<Req, Res> {
  readonly id: string
  encodeRequest(req: Req): Buffer[]
  decodeRequest(blocks: readonly Buffer[]): Req
  encodeResponse(res: Res, req: Req): Buffer[]
  /** `status` is 000 or one of `resultStatuses` (any other status never reaches here). */
  decodeResponse(blocks: readonly Buffer[], req: Req, status: number): Res
  /** Statuses other than 000 that are answers rather than failures (TLI's 020, GKY's keys). */
  readonly resultStatuses?: readonly number[]
}

export type RequestOf<C> = C extends CommandSpec<infer Req, any> ? Req : never
export type ResponseOf<C> = C extends CommandSpec<any, infer Res> ? Res : never

/** "OPN" and "OPN000" are the same command (§2.3): empty blocks do not count. */
function dataBlocks(blocks: readonly Buffer[]): readonly Buffer[] {
  return blocks.filter((b) => b.length > 0)
}

function one<F extends Fields>(codec: RecordCodec<F>, blocks: readonly Buffer[], what: string): RecordOf<F> {
  const data = dataBlocks(blocks)
  if (data.length !== 1) throw new MalformedPacketError(`${what} expects 1 data block, got ${data.length}`)
  return codec.unpack(data[0]!, what)
}

function none(blocks: readonly Buffer[], what: string): Record<string, never> {
  if (dataBlocks(blocks).length) throw new MalformedPacketError(`${what} takes no data`)
  return {}
}

type Maybe<F extends Fields | null> = F extends Fields ? RecordOf<F> : Record<string, never>

/** A classic command whose request and response are each one fixed layout (or nothing). */
export function classic<Q extends Fields | null, R extends Fields | null>(
  id: string,
  request: Q extends Fields ? RecordCodec<Q> : null,
  response: R extends Fields ? RecordCodec<R> : null,
  extra: { resultStatuses?: readonly number[] } = {},
): CommandSpec<Maybe<Q>, Maybe<R>> {
  return {
    id,
    ...extra,
    encodeRequest: (req) => (request ? [request.pack(req as never)] : []),
    decodeRequest: (blocks) => (request ? one(request, blocks, `${id} command`) : none(blocks, `${id} command`)) as Maybe<Q>,
    encodeResponse: (res) => (response ? [response.pack(res as never)] : []),
    decodeResponse: (blocks, _req, status) =>
      (response && status === 0 ? one(response, blocks, `${id} response`) : none(blocks, `${id} response`)) as Maybe<R>,
  }
}

/**
 * An "Abecs" (TLV) command (§3.1.3). `mandatory` lists the parameters the pinpad must get
 * (else ST_MANDAT) and the data the host must find in a successful response.
 */
export function tlvCommand<Req extends SpeParams, Res extends PpData>(
  id: string,
  mandatory: { request?: readonly (keyof Req & string)[]; response?: readonly (keyof Res & string)[] } = {},
): CommandSpec<Req, Res> & { readonly mandatory: typeof mandatory } {
  return {
    id,
    mandatory,
    encodeRequest: (req) => encodeItems(req, SPE),
    decodeRequest: (blocks) => decodeItems<Req>(blocks, SPE_BY_ID, SPE).values,
    encodeResponse: (res) => encodeItems(res, PP),
    decodeResponse: (blocks) => {
      const { values } = decodeItems<Res>(blocks, PP_BY_ID, PP)
      for (const name of mandatory.response ?? []) {
        if (values[name] === undefined) throw new MalformedPacketError(`${id} response lacks mandatory ${name}`)
      }
      return values
    },
  }
}
