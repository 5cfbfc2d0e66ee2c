/**
 * The sandbox's card-hash RSA key pair: generated once per data directory and kept there
 * (PKCS#8 PEM, mode 0600), so card hashes made before a restart still decrypt after it.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { chmod, link, mkdir, open, unlink } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { SandboxKeyError } from '../../errors.js'

export interface SandboxKey {
  privateKey: KeyObject
  /** SPKI PEM, as `public_key` of `GET /transactions/card_hash_key`. */
  publicKeyPem: string
  /** Modulus size in bytes (256 for RSA-2048). */
  size: number
}

const generate = promisify(generateKeyPair)

export function sandboxKeyPath(dataDir: string): string {
  return path.join(dataDir, 'sandbox', 'card-hash-key.pem')
}

/** One load (or generation) per file for the life of the process. */
const cache = new Map<string, Promise<SandboxKey>>()

export function loadSandboxKey(dataDir: string): Promise<SandboxKey> {
  const file = path.resolve(sandboxKeyPath(dataDir))
  let key = cache.get(file)
  if (!key) {
    key = loadOrCreate(file)
    cache.set(file, key)
    key.catch(() => cache.delete(file))
  }
  return key
}

async function loadOrCreate(file: string): Promise<SandboxKey> {
  const existing = await readKey(file)
  if (existing) return existing
  const { privateKey } = await generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const fh = await open(temp, 'wx', 0o600)
    try {
      await fh.writeFile(pem)
      await fh.sync()
    } finally {
      await fh.close()
    }
    // link() fails if another process created the key first: then that key wins and is read back.
    await link(temp, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
    })
  } catch (err) {
    throw new SandboxKeyError(`cannot write ${file}`, { cause: err })
  } finally {
    await unlink(temp).catch(() => {})
  }
  const created = await readKey(file)
  if (!created) throw new SandboxKeyError(`${file} vanished after it was written`)
  return created
}

async function readKey(file: string): Promise<SandboxKey | undefined> {
  let pem: string
  // Synchronous: a small file read at every start, where each step of fs/promises' readFile waits
  // for the start-up's other work to let it go on (several milliseconds of the cold start).
  try {
    pem = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new SandboxKeyError(`cannot read ${file}`, { cause: err })
  }
  // Someone widened the permissions: narrow them again (POSIX only; a no-op on Windows).
  if (process.platform !== 'win32') {
    const { mode } = statSync(file)
    if (mode & 0o077) await chmod(file, 0o600).catch(() => {})
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch (err) {
    throw new SandboxKeyError(`${file} is not a PEM private key`, { cause: err })
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw new SandboxKeyError(`${file} is not an RSA key`)
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string
  const size = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
  return { privateKey, publicKeyPem, size }
}
