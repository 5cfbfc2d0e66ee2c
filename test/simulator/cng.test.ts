/** CNG on the virtual pinpad (§6.8.3): objects added after GCR take the table's place in GOC; card objects are ignored. */
import t from 'tap'
import { emvMap } from '../../src/abecs/emv-tlv.js'
import { fieldPinpad } from '../helpers/field-pinpad.js'

const status = (s: number) => ({ code: 'MPOS_ERR_PINPAD_STATUS', status: s })

t.test('CNG: 9F33 and 5F2A for this card; 9F26 (the card\'s) ignored; only after GCR read a chip', async (t) => {
  const { client, pad } = fieldPinpad(t, { cardholder: { autoCard: 'visa-credit', autoPin: '1234' } })
  await t.rejects(client.call('CNG', { CNG_EMVDAT: '9F3303E0D0C8' }), status(10), 'no GCR before')
  await client.call('GCR', {
    GCR_ACQIDXREQ: '00', GCR_APPTYPREQ: '99', GCR_AMOUNT: 1000, GCR_DATE: '260115', GCR_TIME: '101500',
    GCR_TABVER: pad.tables.version(0), GCR_IDAPP: [],
  })
  await t.rejects(client.call('CNG', { CNG_EMVDAT: '9F3305E0' }), status(11), 'a broken TLV')
  await client.call('CNG', { CNG_EMVDAT: '9F3303E0D0C85F2A020840DF0405169937823F' })
  await client.call('CNG', { CNG_EMVDAT: '9F260811223344556677889F3501 22'.replace(/ /g, '') })
  const goc = await client.call('GOC', {
    GOC_AMOUNT: 1000, GOC_CASHBACK: 0, GOC_EXCLIST: '0', GOC_CONNECT: '1', GOC_RUF1: '0', GOC_METHOD: '3', GOC_KEYIDX: 1,
    GOC_WKENC: '0'.repeat(32), GOC_RISKMAN: '0', GOC_FLRLIMIT: '00000000', GOC_TPBRS: 0, GOC_TVBRS: '00000000', GOC_MTPBRS: 0,
    GOC_ACQPR: '', GOC_TAGS1: '9F335F2A9F269F35', GOC_TAGS2: '',
  })
  const tags = emvMap(Buffer.from(goc.GOC_EMVDAT, 'hex'))
  t.equal(tags.get('9F33')?.toString('hex').toUpperCase(), 'E0D0C8', 'Terminal Capabilities from CNG')
  t.equal(tags.get('5F2A')?.toString('hex'), '0840', 'currency from CNG')
  t.not(tags.get('9F26')?.toString('hex'), '1122334455667788', 'the cryptogram is the card\'s, not CNG\'s')
  t.equal(tags.get('9F35')?.toString('hex'), '22')
})
