// Builds the optional native Hamming search kernel (native/build/Release/arachnid_hamming.node).
// Run by `pnpm install` (this package's install script) and by `pnpm --filter @arachnid/matcher
// build:native`. Without the addon the TypeScript search is used, with the same results.
// ARACHNID_NATIVE=0 skips the build.
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildAddon } from '../../../scripts/native-addon.mjs'

buildAddon({
  label: '@arachnid/matcher native kernel',
  nativeDir: dirname(fileURLToPath(import.meta.url)),
  addon: 'arachnid_hamming',
  fallback: 'the TypeScript search',
})
