/** The fault matrix (helpers/fault-matrix.ts): nak-storm in every state where the device holds a link. */
import t from 'tap'
import { runMatrix } from '../helpers/fault-matrix.js'

await runMatrix(t, 'nak-storm')
