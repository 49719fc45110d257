import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { NonRetryableError } from '@arachnid/core'

/** scrypt cost. N=2^15, r=8 needs 32 MiB per hash: memory-hard enough to make offline guessing costly, ~100 ms here. */
export const SCRYPT_PARAMETERS = { N: 32_768, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const

/** Shortest password accepted for an account. */
export const MIN_PASSWORD_LENGTH = 12

function derive(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, { N, r, p, maxmem: 256 * N * r }, (error, key) => (error ? reject(error) : resolve(key)))
  })
}

/**
 * A memory-hard hash of a password, self-describing (`scrypt$N$r$p$salt$key`, base64url), so the
 * cost can be raised later without invalidating existing accounts.
 *
 * @example
 * const stored = await hashPassword('correct horse battery staple')
 * await verifyPassword('correct horse battery staple', stored) // true
 */
export async function hashPassword(password: string): Promise<string> {
  if (password.length < MIN_PASSWORD_LENGTH) throw new NonRetryableError('WEAK_PASSWORD', `passwords need at least ${MIN_PASSWORD_LENGTH} characters`)
  const { N, r, p, keyLength, saltLength } = SCRYPT_PARAMETERS
  const salt = randomBytes(saltLength)
  const key = await derive(password, salt, N, r, p, keyLength)
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

/** Whether the password matches the stored hash (constant-time comparison). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$')
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false
  const expected = Buffer.from(key, 'base64url')
  const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p), expected.length)
  return timingSafeEqual(actual, expected)
}

/** A hash of nothing anyone knows, verified against when the account does not exist, so a login takes as long either way. */
let decoy: Promise<string> | undefined
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(24).toString('base64url'))
  return decoy
}
