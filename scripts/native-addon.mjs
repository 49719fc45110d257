// Builds one of the workspace's optional native addons with node-gyp, from source and against the
// Node.js headers already on the machine (so node-gyp downloads nothing). Used by each package's
// native/build.mjs, which `pnpm install` runs. It never fails the install: without an addon the
// package's own fallback gives the same results. ARACHNID_NATIVE=0 skips every build.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

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

/** A directory with include/node/node_api.h for this Node.js. */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir
  const prefix = resolve(dirname(process.execPath), '..')
  return existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : undefined
}

/**
 * Builds `nativeDir/build/Release/<addon>.node`; `fallback` names what is used without it.
 * `prepare` may return extra environment for binding.gyp, or a reason (string) not to build.
 * Always exits 0.
 */
export function buildAddon({ label, nativeDir, addon, fallback, prepare = () => ({}) }) {
  const say = (line) => process.stderr.write(`${label}: ${line}\n`)
  const addonPath = join(nativeDir, `build/Release/${addon}.node`)
  if (process.env.ARACHNID_NATIVE === '0') {
    say(`skipped (ARACHNID_NATIVE=0); ${fallback} is used`)
    process.exit(0)
  }
  const extraEnv = prepare()
  if (typeof extraEnv === 'string') {
    say(`not built: ${extraEnv}; ${fallback} is used`)
    process.exit(0)
  }
  const nodeGyp = findNodeGyp()
  if (nodeGyp === undefined) {
    say(`not built: node-gyp not found; ${fallback} is used`)
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
    env: { ...process.env, JOBS: process.env.JOBS ?? '2', ...extraEnv },
  })
  if (result.status === 0 && existsSync(addonPath)) {
    say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } else {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n')
    say(`not built (${result.error?.message ?? `node-gyp exit ${result.status}`}); ${fallback} is used\n${output}`)
    // A half-built addon must not be loaded.
    rmSync(addonPath, { force: true })
  }
  process.exit(0)
}
