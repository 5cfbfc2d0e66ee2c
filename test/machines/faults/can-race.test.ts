/** The fault matrix (helpers/fault-matrix.ts): can-race in every state where the device holds a link. */
import t from 'tap'
import { runMatrix } from '../helpers/fault-matrix.js'

await runMatrix(t, 'can-race')
