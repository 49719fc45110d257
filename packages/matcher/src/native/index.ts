import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/** The optional native Hamming search kernel (packages/matcher/native), when it was built at install. */
export interface NativeKernel {
  /**
   * The batched search of `searchTables` over indexed tables (chunks as (start, bits) pairs):
   * the same hits, as parallel arrays sorted by probe then position.
   */
  search(words: Uint32Array, offsets: readonly Uint32Array[], positions: readonly Uint32Array[], chunks: Uint32Array,
    probes: Uint32Array, count: number, threshold: number): [Uint32Array, Uint32Array, Uint16Array]
  /** Asks for transparent huge pages on the array's memory (before it is touched); whether the kernel agreed. */
  adviseHugePages(array: ArrayBufferView): boolean
  /** 'popcnt' when the CPU's popcount instruction is used, else 'portable'. */
  popcount(): string
}

const ADDON = fileURLToPath(new URL('../../native/build/Release/arachnid_hamming.node', import.meta.url))

function load(): { kernel: NativeKernel | undefined; status: string } {
  if (process.env.ARACHNID_NATIVE === '0') return { kernel: undefined, status: 'disabled (ARACHNID_NATIVE=0)' }
  if (!existsSync(ADDON)) return { kernel: undefined, status: `not built (no ${ADDON}; pnpm install builds it with node-gyp)` }
  try {
    const addon = createRequire(import.meta.url)(ADDON) as NativeKernel
    const kernel: NativeKernel = { search: addon.search, adviseHugePages: addon.adviseHugePages, popcount: addon.popcount }
    return { kernel, status: `loaded (${kernel.popcount()})` }
  } catch (error) {
    return { kernel: undefined, status: `not loaded: ${(error as Error).message}` }
  }
}

const loaded = load()

/**
 * The native kernel, or undefined: not built (the build is optional and never fails an install),
 * disabled by `ARACHNID_NATIVE=0`, or not loadable. Without it the TypeScript search is used, with
 * identical results (tested against each other).
 */
export const nativeKernel: NativeKernel | undefined = loaded.kernel

/** Why the native kernel is or is not in use, for logs and tests. */
export const nativeKernelStatus: string = loaded.status

/** Huge pages for an index table about to be filled (random reads over 1 GiB miss the TLB less); a no-op without the kernel. */
export function adviseHugePages(array: ArrayBufferView): void {
  nativeKernel?.adviseHugePages(array)
}
