import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** scrypt cost. N=2^15, r=8 needs 32 MiB per hash: memory-hard enough to make offline guessing costly, ~100 ms here. */
export const SCRYPT_PARAMETERS = { N: 32_768, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const

function derive(secret: string, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFKC'), salt, keyLength, { N, r, p, maxmem: 256 * N * r }, (error, key) => (error ? reject(error) : resolve(key)))
  })
}

/**
 * A memory-hard hash of a secret (an analyst's or an API user's password), self-describing
 * (`scrypt$N$r$p$salt$key`, base64url), so the cost can be raised later without invalidating
 * what is stored. One implementation for every kind of account.
 *
 * @example
 * const stored = await hashSecret('correct horse battery staple')
 * await verifySecret('correct horse battery staple', stored) // true
 */
export async function hashSecret(secret: string): Promise<string> {
  const { N, r, p, keyLength, saltLength } = SCRYPT_PARAMETERS
  const salt = randomBytes(saltLength)
  const key = await derive(secret, salt, N, r, p, keyLength)
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

/** Whether the secret matches the stored hash (constant-time comparison of the keys). */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$')
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false
  const expected = Buffer.from(key, 'base64url')
  const actual = await derive(secret, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p), expected.length)
  return timingSafeEqual(actual, expected)
}
