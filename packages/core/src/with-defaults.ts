/** Options with every optional field filled: what `withDefaults` returns for a component's options and its defaults. */
export type WithDefaults<D extends object, O extends object> = Omit<O, keyof D> & { readonly [K in keyof D]-?: K extends keyof O ? Exclude<O[K], undefined> | D[K] : D[K] }

/**
 * A component's options over its defaults (one exported `DEFAULT_..._OPTIONS` constant per
 * component, derived from `SETTINGS` where a setting exists). An option given as `undefined`
 * keeps its default: a plain spread would let `{ maxPages: config.maxPages }` with an unset value
 * erase it. The one merge helper of the project: every package uses it.
 *
 * @example
 * const o = withDefaults(DEFAULT_RECHECK_OPTIONS, { intervalSeconds: undefined, batchSize: 5 })
 * // o.intervalSeconds === DEFAULT_RECHECK_OPTIONS.intervalSeconds, o.batchSize === 5
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): WithDefaults<D, O> {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) }
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value
  return out as WithDefaults<D, O>
}

