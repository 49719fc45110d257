import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from '@arachnid/core'
import { LoginThrottle } from '@arachnid/review'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** The lockout's rules, on the database every serve process shares. Each test uses names of its own. */
describe.each(dialects)('login throttle on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
  })
  afterAll(async () => {
    await handle?.close()
  })

  const fail = async (throttle: LoginThrottle, name: string) => {
    const attempt = await throttle.begin(name)
    await attempt?.failed()
    return attempt !== undefined
  }

  it('lets five failures through per name, refuses the sixth without counting it, and forgets them on a success', async () => {
    const throttle = new LoginThrottle(handle.db)
    for (let i = 0; i < 5; i++) expect(await fail(throttle, 'carol')).toBe(true)
    expect(await fail(throttle, 'carol')).toBe(false)
    expect(await fail(throttle, 'carol')).toBe(false)
    expect(await fail(throttle, 'dave')).toBe(true)
    const count = async (name: string) => (await handle.db.selectFrom('login_failures').select('id').where('name', '=', name).execute()).length
    expect(await count('carol')).toBe(5)
    // Another process on the same database sees the same five.
    expect(await fail(new LoginThrottle(handle.db), 'carol')).toBe(false)

    const erin = new LoginThrottle(handle.db, { maxFailures: 2 })
    expect(await fail(erin, 'erin')).toBe(true)
    const right = await erin.begin('erin')
    await right!.succeeded()
    expect(await count('erin')).toBe(0)
    expect(await fail(erin, 'erin')).toBe(true)
    expect(await fail(erin, 'erin')).toBe(true)
    expect(await fail(erin, 'erin')).toBe(false)
  })

  it('counts only the window\'s failures, and deletes older ones as logins go on', async () => {
    const throttle = new LoginThrottle(handle.db, { maxFailures: 2, windowMinutes: 15 })
    await handle.db.insertInto('login_failures').values([{ name: 'frank', at: sql<Date>`now() - interval '16 minutes'` as never }, { name: 'frank', at: sql<Date>`now() - interval '14 minutes'` as never }]).execute()
    expect(await fail(throttle, 'frank')).toBe(true)
    expect(await fail(throttle, 'frank')).toBe(false)
    const left = await handle.db.selectFrom('login_failures').select(sql<boolean>`at > now() - interval '15 minutes'`.as('recent')).where('name', '=', 'frank').execute()
    expect(left.map((r) => r.recent)).toEqual([true, true])
  })

  it('lets no more than five guesses through when they arrive at once, from several processes', async () => {
    const processes = [new LoginThrottle(handle.db), new LoginThrottle(handle.db), new LoginThrottle(handle.db)]
    const burst = (await Promise.all(Array.from({ length: 12 }, (_, i) => fail(processes[i % 3]!, 'grace')))).filter(Boolean).length
    expect(burst).toBeLessThanOrEqual(5)
    // Attempts that saw others in flight were refused and not counted: what is left of the five comes after, and no more.
    let after = 0
    for (let i = 0; i < 12; i++) if (await fail(processes[i % 3]!, 'grace')) after++
    expect(burst + after).toBe(5)
  })
})
