// Builds the optional native decode of plain JPEG, PNG and WebP images
// (native/build/Release/arachnid_decode.node) against the libvips that sharp itself loads
// (@img/sharp-libvips-<platform>) and its headers (@img/sharp-libvips-dev, the package sharp's own
// source build uses). Run by `pnpm install` (this package's install script) and by `pnpm --filter
// @arachnid/hasher build:native`. Without the addon every image goes through sharp, with the same
// pixels. ARACHNID_NATIVE=0 skips it.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildAddon } from '../../../scripts/native-addon.mjs'

const nativeDir = dirname(fileURLToPath(import.meta.url))

/** Where the headers and sharp's libvips are, for binding.gyp; or why the addon is not built. */
function locateLibvips() {
  if (process.platform !== 'linux') return `sharp's libvips is only linked on Linux here (this is ${process.platform})`
  const requireHere = createRequire(join(nativeDir, '../package.json'))
  let sharpEntry, include
  try {
    sharpEntry = requireHere.resolve('sharp')
    include = dirname(requireHere.resolve('@img/sharp-libvips-dev/include'))
  } catch (error) {
    return `a package is missing (${error.message.split('\n')[0]})`
  }
  const requireSharp = createRequire(sharpEntry)
  const platformPackage = `@img/sharp-libvips-linux-${process.arch}`
  let lib, library
  try {
    lib = dirname(requireSharp.resolve(`${platformPackage}/lib`))
    library = requireSharp.resolve(`${platformPackage}/binary`)
  } catch {
    return `sharp has no prebuilt ${platformPackage} here (musl, or sharp built from source)`
  }
  // The headers must be those of the libvips the addon links: the same libvips version.
  const built = JSON.parse(readFileSync(join(lib, '../versions.json'), 'utf8')).vips
  const headers = JSON.parse(readFileSync(join(include, '../versions.json'), 'utf8')).vips
  if (built !== headers) return `sharp's libvips is ${built} but @img/sharp-libvips-dev holds ${headers}'s headers`
  if (!existsSync(join(lib, 'glib-2.0/include/glibconfig.h'))) return `no glibconfig.h beside sharp's libvips`
  return { ARACHNID_VIPS_INCLUDE: include, ARACHNID_VIPS_LIB: lib, ARACHNID_VIPS_LIBRARY: library }
}

buildAddon({
  label: '@arachnid/hasher native decode',
  nativeDir,
  addon: 'arachnid_decode',
  fallback: 'sharp',
  prepare: locateLibvips,
})
