/**
 * JSON-schema fields for query strings and bodies, each with a `description` in words that says
 * what it takes: the same words go into the OpenAPI document and into the 400 a bad value gets
 * (`query parameter limit="abc": expected an integer from 1 to 500`).
 *
 * @example
 * const querystring = { type: 'object', properties: { limit: field.integer(1, 500) } } as const
 */
export const field = {
  /** A whole number in [min, max]. */
  integer(min: number, max: number) {
    return { type: 'integer', minimum: min, maximum: max, description: `an integer from ${min} to ${max}` } as const
  },
  /** A database id: a positive integer no larger than a Postgres integer. */
  id() {
    return { type: 'integer', minimum: 1, maximum: MAX_ID, description: `a positive integer (an id, at most ${MAX_ID})` } as const
  },
  /** A bigint id, kept as its decimal text. */
  bigId(what: string) {
    return { type: 'string', pattern: '^(?!0+$)[0-9]{1,18}$', description: `${what} id (a positive integer)` } as const
  },
  /** One of the given words. */
  choice<const T extends readonly string[]>(values: T) {
    return { type: 'string', enum: values, description: `one of ${values.join(', ')}` } as const
  },
  /** Text of at most `maxLength` characters. */
  text(maxLength = 200) {
    return { type: 'string', maxLength, description: `at most ${maxLength} characters` } as const
  },
  boolean() {
    return { type: 'boolean', description: 'true or false' } as const
  },
}

/** Largest id a route takes (ids are Postgres integers); larger ones name nothing. */
export const MAX_ID = 2_147_483_647
