import { describe, expect, it } from 'vitest'
import { SCRYPT_PARAMETERS, hashSecret, verifySecret } from '@arachnid/core'

describe('hashSecret and verifySecret (every stored password: analysts and API users)', () => {
  it('stores a salted, self-describing scrypt hash that verifies only the same secret', async () => {
    const stored = await hashSecret('correct horse battery staple')
    const { N, r, p } = SCRYPT_PARAMETERS
    expect(stored).toMatch(new RegExp(`^scrypt\\$${N}\\$${r}\\$${p}\\$[\\w-]{22}\\$[\\w-]{43}$`))
    expect(await hashSecret('correct horse battery staple')).not.toBe(stored)
    expect(await verifySecret('correct horse battery staple', stored)).toBe(true)
    expect(await verifySecret('correct horse battery stapl', stored)).toBe(false)
    // Unicode forms that look the same are the same secret (NFKC).
    expect(await verifySecret('ﬁle', await hashSecret('file'))).toBe(true)
  })

  it('says no to a stored value of another form instead of throwing', async () => {
    for (const stored of ['', 'plain', 'bcrypt$10$abc', 'scrypt$32768$8$1$salt']) expect(await verifySecret('x', stored)).toBe(false)
  })
})
