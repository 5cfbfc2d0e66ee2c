/**
 * V8 tuning of a bridge process, applied as the server module loads (before the machines are).
 *
 * Allocation-site pretenuring off: V8 allocates objects straight into the old generation from
 * allocation sites whose objects often survived a scavenge. XState's actors and snapshots (one
 * promise actor per pinpad step, a snapshot per event) are such sites, yet they live for one
 * step; pretenured, they and every young object they point to are kept until a full mark-compact
 * (the old generation's dead objects are roots for the scavenger). Measured (bench/pay-cpu.ts,
 * interleaved A/B): promoted bytes per scavenge 1 MB → 0.3 MB, mark-compacts a third as often,
 * server CPU per payment 4–12% lower; the machines alone (bench/machines.ts) about 20% faster.
 * The flag has been in V8 for years (Node 20, 22 and 24 have it).
 */
import { setFlagsFromString } from 'node:v8'

setFlagsFromString('--no-allocation-site-pretenuring')
