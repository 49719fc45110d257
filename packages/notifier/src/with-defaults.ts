/**
 * Options over defaults, where an option given as `undefined` keeps the default (a plain spread
 * would let `{ ttl: config.ttl }` with an unset value erase it).
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) }
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value
  return out as D & O
}
