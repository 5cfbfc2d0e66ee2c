/**
 * Shared pieces of the serial-side property tests (test/abecs/link-fuzz.test.ts,
 * test/simulator/pinpad-fuzz.test.ts): the run count, a watch on uncaught exceptions and
 * unhandled rejections, and fast-check generators of hostile byte streams (§2.2.1 framing
 * broken in every way a wire or a buggy peer breaks it).
 */
import fc from 'fast-check'
import { ACK, CAN, DC3, EOT, ETB, NAK, SYN } from '../../src/abecs/control.js'
import { encodeFrame } from '../../src/abecs/frame.js'

/**
 * Cases per property: 10 000 by default; `MPOS_FUZZ_RUNS=200000 npx tap --timeout=0 test/abecs/link-fuzz.test.ts`
 * for a long local run. MPOS_FUZZ_SEED (and MPOS_FUZZ_PATH, the path fast-check reports) replays
 * a failure; see fuzz-worker.ts.
 */
export function fuzzRuns(fallback = 10_000): number {
  const n = Number(process.env.MPOS_FUZZ_RUNS)
  return Number.isSafeInteger(n) && n > 0 ? n : fallback
}

/**
 * Records every uncaught exception and unhandled rejection from now on. A listener on
 * 'uncaughtException' keeps the thread alive, so the property can fail on it (and shrink)
 * instead of the whole run dying. Call once per worker (see fuzz-worker.ts).
 */
export function watchCrashes(): () => unknown[] {
  const crashes: unknown[] = []
  const onError = (err: unknown) => crashes.push(err)
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
  return () => crashes.splice(0)
}

export const stacks = (errs: readonly unknown[]): string => errs.map((e) => (e as Error)?.stack ?? String(e)).join('\n')

// --- Bytes --------------------------------------------------------------------------

export const CONTROL_BYTES = [ACK, NAK, EOT, CAN] as const

/** Line noise, usually short, sometimes long enough to overflow a packet. */
export const garbage = (): fc.Arbitrary<Buffer> =>
  fc
    .oneof(
      { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 48 }) },
      // Noise made of the link's own special bytes, the likeliest to confuse a decoder.
      { weight: 4, arbitrary: fc.array(fc.constantFrom(SYN, ETB, DC3, ACK, NAK, EOT, CAN, 0x33, 0x36, 0x37, 0x41), { minLength: 1, maxLength: 24 }).map((a) => Uint8Array.from(a)) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 3000 }) },
    )
    .map((b) => Buffer.from(b))

/** One or a few of ACK, NAK, EOT, CAN. */
export const controls = (): fc.Arbitrary<Buffer> =>
  fc.array(fc.constantFrom(...CONTROL_BYTES), { minLength: 1, maxLength: 5 }).map((a) => Buffer.from(a))

/** How a frame gets broken on its way. */
export type Mangle =
  | { kind: 'none' }
  | { kind: 'bad-crc'; xor: number; which: 0 | 1 }
  | { kind: 'truncate'; at: number }
  | { kind: 'raw-syn'; at: number }
  | { kind: 'bad-escape'; at: number; byte: number }
  | { kind: 'no-etb' }
  | { kind: 'doubled'; at: number }

export const mangle = (): fc.Arbitrary<Mangle> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('bad-crc' as const), xor: fc.integer({ min: 1, max: 255 }), which: fc.constantFrom(0 as const, 1 as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw-syn' as const), at: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('bad-escape' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'no-etb' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('doubled' as const), at: fc.nat() }) },
  )

/**
 * Frames `data` (§2.2.1), then breaks it as `m` says. 'none' is a correct frame; every other
 * kind leaves the receiver a lost packet (or, for 'doubled', two starts of one).
 */
export function frameBytes(data: Buffer, m: Mangle): Buffer {
  const frame = encodeFrameUnchecked(data)
  switch (m.kind) {
    case 'none':
      return frame
    case 'bad-crc': {
      const out = Buffer.from(frame)
      out[out.length - 2 + m.which]! ^= m.xor
      return out
    }
    case 'truncate':
      return frame.subarray(0, 1 + (m.at % (frame.length - 1)))
    case 'raw-syn': {
      // An unescaped SYN inside the data: the receiver restarts there (§2.2.3).
      const at = 1 + (m.at % Math.max(1, frame.length - 3))
      return Buffer.concat([frame.subarray(0, at), Buffer.of(SYN), frame.subarray(at)])
    }
    case 'bad-escape': {
      // DC3 followed by anything: SYN restarts, other bytes decode to a wrong value.
      const at = 1 + (m.at % Math.max(1, frame.length - 3))
      return Buffer.concat([frame.subarray(0, at), Buffer.of(DC3, m.byte), frame.subarray(at)])
    }
    case 'no-etb':
      return frame.subarray(0, frame.length - 3)
    case 'doubled': {
      const cut = 1 + (m.at % (frame.length - 1))
      return Buffer.concat([frame.subarray(0, cut), frame])
    }
  }
}

/** encodeFrame without its size check, for oversized packets a broken peer might send. */
export const encodeFrameUnchecked = (data: Buffer): Buffer => encodeFrame(data, Number.MAX_SAFE_INTEGER)

/** Splits `bytes` at the given cut points (each taken modulo the length). */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  if (!bytes.length) return []
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

/**
 * Split points that matter for the decoders: right after a DC3 (the escaped byte comes in the
 * next piece), right after ETB (the CRC comes later), between the two CRC bytes.
 */
export function criticalCuts(frame: Buffer): number[] {
  const cuts: number[] = []
  for (let i = 1; i < frame.length; i++) if (frame[i - 1] === DC3 || frame[i - 1] === ETB) cuts.push(i)
  if (frame.length > 2) cuts.push(frame.length - 1)
  return cuts
}

/** How a chunk reaches the other end: in pieces, separated by gaps (virtual ms). */
export interface Delivery {
  cuts: number[]
  /** Split right after every DC3, ETB and between the CRC bytes as well. */
  critical: boolean
  /** 0: each piece a separate write in the same instant; otherwise the gap between pieces. */
  gapMs: number
}

export const delivery = (): fc.Arbitrary<Delivery> =>
  fc.record({
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
    critical: fc.boolean(),
    // Around the 500 ms silence and the 2 s inter-byte timeout as well as short gaps.
    gapMs: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 100 }) }, { weight: 1, arbitrary: fc.constantFrom(499, 500, 501, 1999, 2000, 2001, 2500) }),
  })

export function pieces(bytes: Buffer, d: Delivery): Buffer[] {
  return splitAt(bytes, d.critical ? [...d.cuts, ...criticalCuts(bytes)] : d.cuts)
}

/** Delays (virtual ms) around the link's deadlines: immediate, short, near the silence, ACK and inter-byte times. */
export const delayMs = (): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 300 }) },
    { weight: 2, arbitrary: fc.integer({ min: 300, max: 2600 }) },
    { weight: 1, arbitrary: fc.integer({ min: 2600, max: 12_000 }) },
  )

/** Digits of `n` characters. */
export const pad3 = (n: number): string => String(n).padStart(3, '0')
