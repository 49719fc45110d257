/**
 * PDQ's blur and decimation, planned per axis: the reference's window size and sampling points,
 * and the weights that its two box-filter passes give each input index of the 64 kept samples
 * (folded into one vector per sample). Shared by the folded downsample (pdq-hash.ts) and the
 * one-pass scan (folded-scan.ts).
 */
/** Size of the decimated image. */
export const DOWN = 64

/** The reference's window: about twice the decimation step, so every input pixel contributes. */
export function jaroszWindowSize(oldDimension: number): number {
  return Math.floor((oldDimension + 2 * DOWN - 1) / (2 * DOWN))
}

/** The reference's decimation: sample at the centre of each of 64 equal strips. */
export function decimationIndex(i: number, n: number): number {
  return Math.floor(((i + 0.5) * n) / DOWN)
}

/** Inclusive bounds of the box window for output `o` of a length-`n` vector (edges truncated, as the reference does). */
export function boxBounds(o: number, n: number, fullWindow: number): [number, number] {
  const half = Math.floor((fullWindow + 2) / 2)
  return [Math.max(0, o - (fullWindow - half)), Math.min(n - 1, o + half - 1)]
}

/**
 * Weights that two passes of the box filter give input index c for output index `o`:
 * W = A·A restricted to row `o`, where A averages over the truncated window.
 */
function twoPassWeights(o: number, n: number, fullWindow: number): { start: number; weights: Float64Array } {
  const [lo, hi] = boxBounds(o, n, fullWindow)
  const outer = 1 / (hi - lo + 1)
  const [start] = boxBounds(lo, n, fullWindow)
  const [, end] = boxBounds(hi, n, fullWindow)
  const weights = new Float64Array(end - start + 1)
  for (let m = lo; m <= hi; m++) {
    const [mlo, mhi] = boxBounds(m, n, fullWindow)
    const w = outer / (mhi - mlo + 1)
    for (let c = mlo; c <= mhi; c++) weights[c - start] = (weights[c - start] ?? 0) + w
  }
  return { start, weights }
}

/**
 * Two-pass box weights of one axis for the 64 kept samples: sample o reads inputs
 * starts[o] .. starts[o] + lengths[o] - 1 with weights[o * stride + k].
 */
export interface AxisPlan {
  readonly starts: Int32Array
  readonly lengths: Int32Array
  readonly stride: number
  readonly weights: Float64Array
}

function axisPlan(n: number): AxisPlan {
  const window = jaroszWindowSize(n)
  const perSample = Array.from({ length: DOWN }, (_, o) => twoPassWeights(decimationIndex(o, n), n, window))
  const stride = Math.max(...perSample.map((s) => s.weights.length))
  const starts = new Int32Array(DOWN)
  const lengths = new Int32Array(DOWN)
  const weights = new Float64Array(DOWN * stride)
  perSample.forEach((s, o) => {
    starts[o] = s.start
    lengths[o] = s.weights.length
    weights.set(s.weights, o * stride)
  })
  return { starts, lengths, stride, weights }
}

/** Plans depend only on the dimension, and crawls see the same few sizes again and again. */
const planCache = new Map<number, AxisPlan>()
export function cachedPlan(n: number): AxisPlan {
  let plan = planCache.get(n)
  if (plan === undefined) {
    if (planCache.size >= 512) planCache.clear()
    plan = axisPlan(n)
    planCache.set(n, plan)
  }
  return plan
}

/**
 * The same two-pass weights as integers over a common divisor, for the kept samples whose
 * divisor is at most `maxDivisor`: weights[i * stride + k] / divisors[i] are the weights of
 * cachedPlan(n), exactly (as rationals). Sample i's divisor is its window's count times the
 * least common multiple of the counts of the windows it averages, so inside the image it is
 * window², and each weight is the number of inner windows covering the input (1, 2, ..., window,
 * ..., 2, 1). divisors[i] is 0 where the divisor would exceed maxDivisor (windows truncated at
 * an edge with counts whose multiple is large); those samples keep the float weights.
 */
export interface IntegerAxisPlan {
  readonly starts: Int32Array
  readonly lengths: Int32Array
  readonly stride: number
  readonly weights: Int32Array
  readonly divisors: Int32Array
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

function integerAxisPlan(n: number, maxDivisor: number): IntegerAxisPlan {
  const window = jaroszWindowSize(n)
  const { starts, lengths, stride } = cachedPlan(n)
  const weights = new Int32Array(DOWN * stride)
  const divisors = new Int32Array(DOWN)
  for (let i = 0; i < DOWN; i++) {
    const [lo, hi] = boxBounds(decimationIndex(i, n), n, window)
    let multiple = 1
    for (let m = lo; m <= hi && multiple <= maxDivisor; m++) {
      const [mlo, mhi] = boxBounds(m, n, window)
      const count = mhi - mlo + 1
      multiple = (multiple / gcd(multiple, count)) * count
    }
    const divisor = (hi - lo + 1) * multiple
    if (divisor > maxDivisor) continue
    divisors[i] = divisor
    for (let m = lo; m <= hi; m++) {
      const [mlo, mhi] = boxBounds(m, n, window)
      const share = multiple / (mhi - mlo + 1)
      for (let c = mlo; c <= mhi; c++) weights[i * stride + c - starts[i]!]! += share
    }
  }
  return { starts, lengths, stride, weights, divisors }
}

const integerPlanCache = new Map<string, IntegerAxisPlan>()
export function cachedIntegerPlan(n: number, maxDivisor: number): IntegerAxisPlan {
  const key = `${n}/${maxDivisor}`
  let plan = integerPlanCache.get(key)
  if (plan === undefined) {
    if (integerPlanCache.size >= 512) integerPlanCache.clear()
    plan = integerAxisPlan(n, maxDivisor)
    integerPlanCache.set(key, plan)
  }
  return plan
}
