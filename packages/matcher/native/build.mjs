// Builds the optional native Hamming search kernel (native/build/Release/arachnid_hamming.node) with
// node-gyp, from source and against the Node.js headers already on the machine. Run by `pnpm
// install` (this package's install script) and by `pnpm --filter @arachnid/matcher build:native`.
// It never fails the install: without the addon the TypeScript search is used, with the same
// results. ARACHNID_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const nativeDir = dirname(fileURLToPath(import.meta.url))
const say = (line) => process.stderr.write(`@arachnid/matcher native kernel: ${line}\n`)

if (process.env.ARACHNID_NATIVE === '0') {
  say('skipped (ARACHNID_NATIVE=0); the TypeScript search is used')
  process.exit(0)
}

/** node-gyp: the one the package manager names, else npm's or pnpm's bundled copy beside this Node.js. */
function findNodeGyp() {
  const named = process.env.npm_config_node_gyp
  if (named && existsSync(named)) return named
  const prefix = resolve(dirname(process.execPath), '..')
  const candidates = [
    join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    join(prefix, 'lib/node_modules/pnpm/dist/node_modules/node-gyp/bin/node-gyp.js'),
    join(prefix, 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ]
  return candidates.find((c) => existsSync(c))
}

/** A directory with include/node/node_api.h for this Node.js, so node-gyp downloads nothing. */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir
  const prefix = resolve(dirname(process.execPath), '..')
  return existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : undefined
}

const nodeGyp = findNodeGyp()
if (nodeGyp === undefined) {
  say('not built: node-gyp not found; the TypeScript search is used')
  process.exit(0)
}
const nodeDir = findNodeDir()
const args = ['rebuild', '--release', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])]
const command = nodeGyp.endsWith('.js') ? process.execPath : nodeGyp
const started = Date.now()
const result = spawnSync(command, nodeGyp.endsWith('.js') ? [nodeGyp, ...args] : args, {
  cwd: nativeDir,
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
  timeout: 300_000,
  env: { ...process.env, JOBS: process.env.JOBS ?? '2' },
})
if (result.status === 0 && existsSync(join(nativeDir, 'build/Release/arachnid_hamming.node'))) {
  say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
} else {
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n')
  say(`not built (${result.error?.message ?? `node-gyp exit ${result.status}`}); the TypeScript search is used\n${output}`)
  // A half-built addon must not be loaded.
  rmSync(join(nativeDir, 'build/Release/arachnid_hamming.node'), { force: true })
}
process.exit(0)
