/**
 * Property tests (fast-check) of the virtual pinpad against a hostile host (§6.2.1, §6.2.2).
 *
 * 1. Line noise, then a command. Arbitrary bytes — garbage, stray ACK/NAK/EOT/CAN, truncated,
 *    doubled, badly escaped, oversized frames and bad CRCs, split at random points and spread
 *    over time — reach the pinpad; then the real host stack (HostLink + PinpadClient) sends a
 *    valid OPN, GIN, DSP, GIX or GTS. Checked: nothing is thrown anywhere; until the command,
 *    the pinpad sends nothing but EOT (one per CAN, §2.2.2.3) and NAK (never more than the bad
 *    packets it saw, each only after its silence without a byte, 500 ms by default, §6.2.1), and a
 *    NAK at all if it saw a bad packet and was given the time — unless the noise happened to
 *    hold a valid packet, which it may answer; every byte it sends is part of a correct frame or
 *    a control byte; the command gets exactly the answer a fresh pinpad gives.
 * 2. Valid frames with random packet data. Sequences of 1–4 well-framed packets: real command ids
 *    (with their specification examples and typed requests, mutated), other ABECS ids the
 *    simulator does not implement, random ids; blocks and TLV items of random content. Each is
 *    ACKed and answered with a well-formed packet (its own id or ERR with ST_INVCALL for an
 *    unknown command, §2.3.4), whose status is a return code of §3.1.1 other than ST_INTERR (an
 *    exception inside the simulator), and whose data the host-side layout decodes when the status
 *    is a success. Blocking commands nobody completes are cancelled with CAN and confirm with EOT.
 *    Afterwards the pinpad still answers OPN. MPOS_FUZZ_RUNS / 2 sequences (some 12 000 frames).
 * 3. The host stack and the pinpad together, the pinpad's link faults on (stalled, NAKing,
 *    corrupting, dropping, garbage first, answers delayed past the deadline), its answers paced at
 *    19 200 or 115 200 baud or not, and callers aborting at any moment (CAN while an answer may be
 *    half on the wire): every command settles with the pinpad's true answer or a typed link error,
 *    and once the faults are gone the next command is answered. MPOS_FUZZ_RUNS / 4 sessions of
 *    1–4 commands.
 *
 * Time is virtual (test/helpers/virtual-clock.ts): real timings (500 ms silence, 2 s inter-byte,
 * the cardholder's delays) cost nothing and replay identically on any machine; there are no
 * wall-clock assertions. The cases run in a worker thread (test/helpers/fuzz-worker.ts).
 *
 * MPOS_FUZZ_RUNS sets the number of cases (default 10 000; the second and third properties take
 * a share of it, as said above), e.g. for a long local run:
 *   MPOS_FUZZ_RUNS=200000 npx tap --timeout=0 test/simulator/pinpad-fuzz.test.ts
 * A failure reports fast-check's seed and path: MPOS_FUZZ_SEED=… MPOS_FUZZ_PATH=… replays it.
 */
import t from 'tap'
import { runPropertyInWorker } from '../helpers/fuzz-worker.js'
import { fuzzRuns } from '../helpers/fuzz.js'

const RUNS = fuzzRuns()
const cases = new URL('../fuzz/virtual-pinpad.ts', import.meta.url)

t.test(`noise, then a command: ${RUNS} cases`, async (t) => {
  await runPropertyInWorker(t, cases, 'noiseProperty', RUNS)
})

t.test(`valid frames with random packet data: ${Math.ceil(RUNS / 2)} sequences`, async (t) => {
  await runPropertyInWorker(t, cases, 'validFramesProperty', Math.ceil(RUNS / 2))
})

t.test(`link faults, pacing and callers giving up: ${Math.ceil(RUNS / 4)} sessions`, async (t) => {
  await runPropertyInWorker(t, cases, 'faultsProperty', Math.ceil(RUNS / 4))
})
