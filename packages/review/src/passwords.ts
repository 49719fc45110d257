import { randomBytes } from 'node:crypto'
import { NonRetryableError, hashSecret, verifySecret } from '@arachnid/core'

/** The cost of every stored password, analysts' and API users' alike (core's hashSecret). */
export { SCRYPT_PARAMETERS } from '@arachnid/core'

/** Shortest password accepted for an account. */
export const MIN_PASSWORD_LENGTH = 12

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
  return hashSecret(password)
}

/** Whether the password matches the stored hash (constant-time comparison). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  return verifySecret(password, stored)
}

/** A hash of nothing anyone knows, verified against when the account does not exist, so a login takes as long either way. */
let decoy: Promise<string> | undefined
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(24).toString('base64url'))
  return decoy
}
