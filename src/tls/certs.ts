/**
 * The local TLS authority: a CA made on this till (name-constrained to loopback names, so its key
 * can vouch for nothing else) and a server certificate for localhost, 127.0.0.1 and ::1 signed by it.
 * X.509 structures by @peculiar/x509, keys and signatures by Node's WebCrypto (ECDSA P-256).
 */
import 'reflect-metadata' // @peculiar/x509's dependency injection (tsyringe) needs it loaded first
import * as x509 from '@peculiar/x509'
import { AsnConvert } from '@peculiar/asn1-schema'
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, id_ce_nameConstraints } from '@peculiar/asn1-x509'
import { randomBytes, webcrypto } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { CertificateError } from '../errors.js'
import { certificateExpiry } from './credentials.js'
import { tlsFiles, type TlsFiles } from './files.js'

export { tlsFiles, type TlsFiles }

x509.cryptoProvider.set(webcrypto as never)

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
const DAY = 86_400_000
/** The CA outlives many server certificates: renewing one does not ask the shop to trust anew. */
export const CA_DAYS = 3650
/** Under the 398 days browsers accept for a server certificate. */
export const SERVER_DAYS = 397
export const SERVER_NAMES = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] }

const serial = () => {
  const b = randomBytes(16)
  b[0]! &= 0x7f // a positive INTEGER
  return b.toString('hex')
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key))
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
  return (await webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign'])) as unknown as webcrypto.CryptoKey
}

/** Private keys: written 0600 (chmod too, for a file that already existed with other bits). */
async function writeSecret(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600 })
  await chmod(file, 0o600)
}

function loopbackOnly(): x509.Extension {
  const subtree = (name: Partial<GeneralName>) => new GeneralSubtree({ base: new GeneralName(name) })
  const permitted = new GeneralSubtrees([subtree({ dNSName: 'localhost' }), subtree({ iPAddress: '127.0.0.0/8' }), subtree({ iPAddress: '::1/128' })])
  return new x509.Extension(id_ce_nameConstraints, true, AsnConvert.serialize(new NameConstraints({ permittedSubtrees: permitted })))
}

async function makeCa(now: Date): Promise<{ cert: x509.X509Certificate; keys: webcrypto.CryptoKeyPair }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=mpos-bridge local CA (${hostname().replace(/[,=+<>#;"\\]/g, '')}), O=mpos-bridge`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_DAYS * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      loopbackOnly(),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  return { cert, keys }
}

async function makeServer(ca: x509.X509Certificate, caKey: webcrypto.CryptoKey, now: Date, days: number) {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=localhost, O=mpos-bridge',
    issuer: ca.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days * DAY),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...SERVER_NAMES.dns.map((value) => ({ type: 'dns' as const, value })),
        ...SERVER_NAMES.ip.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  return { cert, keys }
}

export interface CertResult {
  files: TlsFiles
  /** What was written now: 'ca' and/or 'server' (nothing: both existed). */
  created: Array<'ca' | 'server'>
  caExpires: Date
  serverExpires: Date
}

/**
 * Creates what is missing; `renew` issues a new server certificate with the CA that exists (the
 * browsers' trust stays), and a new CA only when it has less than a server certificate's life left.
 */
export async function ensureCertificates(dataDir: string, options: { renew?: boolean; now?: Date; serverDays?: number } = {}): Promise<CertResult> {
  const now = options.now ?? new Date()
  const days = options.serverDays ?? SERVER_DAYS
  const files = tlsFiles(dataDir)
  await mkdir(files.dir, { recursive: true, mode: 0o700 })
  const created: CertResult['created'] = []
  let ca: x509.X509Certificate
  let caKey: webcrypto.CryptoKey
  const haveCa = existsSync(files.caCert) && existsSync(files.caKey)
  const caTooOld = haveCa && new x509.X509Certificate(await readFile(files.caCert, 'utf8')).notAfter.getTime() < now.getTime() + days * DAY
  if (haveCa && !(options.renew && caTooOld)) {
    try {
      ca = new x509.X509Certificate(await readFile(files.caCert, 'utf8'))
      caKey = await importKey(await readFile(files.caKey, 'utf8'))
    } catch (err) {
      throw new CertificateError(`the CA in ${files.dir} cannot be read (${(err as Error).message}); move it away and run mpos-bridge cert again`)
    }
  } else {
    const made = await makeCa(now)
    ca = made.cert
    caKey = made.keys.privateKey
    await writeSecret(files.caKey, await exportKey(caKey))
    await writeFile(files.caCert, ca.toString('pem') + '\n')
    created.push('ca')
  }
  if (created.includes('ca') || options.renew || !existsSync(files.cert) || !existsSync(files.key)) {
    const server = await makeServer(ca, caKey, now, days)
    await writeSecret(files.key, await exportKey(server.keys.privateKey))
    await writeFile(files.cert, server.cert.toString('pem') + '\n')
    created.push('server')
  }
  return { files, created, caExpires: ca.notAfter, serverExpires: certificateExpiry(readFileSync(files.cert, 'utf8')) }
}
