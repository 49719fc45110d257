// `pnpm arachnid ...`: the CLI, run from one esbuild bundle of the workspace's TypeScript instead of
// through tsx's loader. Under tsx every module of the command (ours and every dependency's) is
// resolved and loaded through loader hooks on another thread, one synchronous round trip each,
// which cost 1.5-3 s of CPU before a command did anything. The bundle is rebuilt whenever a source
// file changes (a key of every source file's path, size and mtime, taken in a few milliseconds),
// so an edit is seen by the next command as it was under tsx. Dependencies stay outside the bundle,
// loaded by Node.js from where each workspace package resolves them, and `import.meta.url` keeps
// each source file's own address, so worker threads, the native addon and the review page's assets
// are found where they were. ARACHNID_CLI_BUNDLE=0 runs through tsx as before.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const entry = join(root, 'packages/cli/src/main.ts')

if (process.env.ARACHNID_CLI_BUNDLE === '0') {
  const { register } = await import('tsx/esm/api')
  register()
  await import(pathToFileURL(entry).href)
} else {
  const bundle = await bundleFor(sourceKey())
  process.setSourceMapsEnabled(true)
  await import(pathToFileURL(join(bundle, 'main.js')).href)
}

/** A digest of every source the bundle is built from: each file's path, size and modification time. */
function sourceKey() {
  const hash = createHash('sha256')
  const add = (file) => {
    const s = statSync(file)
    hash.update(`${relative(root, file)}\0${s.size}\0${s.mtimeMs}\n`)
  }
  for (const file of [fileURLToPath(import.meta.url), join(root, 'tsconfig.json'), join(root, 'pnpm-lock.yaml')]) add(file)
  for (const pkg of readdirSync(join(root, 'packages')).sort()) {
    const dir = join(root, 'packages', pkg)
    if (existsSync(join(dir, 'package.json'))) add(join(dir, 'package.json'))
    if (!existsSync(join(dir, 'src'))) continue
    const files = readdirSync(join(dir, 'src'), { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile()).map((d) => join(d.parentPath ?? d.path, d.name)).sort()
    for (const file of files) add(file)
  }
  return hash.digest('hex').slice(0, 20)
}

/** The bundle's folder for this key: built once, into a temporary folder renamed into place, so concurrent commands never see half of one. */
async function bundleFor(key) {
  const cache = join(root, 'node_modules/.cache/arachnid-cli')
  const dir = join(cache, key)
  if (existsSync(join(dir, 'main.js'))) return dir
  const { build } = await import('esbuild')
  const temp = join(cache, `.${key}-${process.pid}`)
  rmSync(temp, { recursive: true, force: true })
  mkdirSync(temp, { recursive: true })
  await build({
    entryPoints: { main: entry },
    outdir: temp,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    // As Node.js resolves: no 'module' condition or field.
    conditions: [],
    mainFields: ['main'],
    tsconfig: join(root, 'tsconfig.json'),
    logLevel: 'error',
    plugins: [workspaceOnly()],
  }).catch(() => {
    // esbuild has printed what failed, with file and line, as tsx would have.
    rmSync(temp, { recursive: true, force: true })
    process.stderr.write('arachnid: the CLI\'s TypeScript sources did not build (above)\n')
    process.exit(1)
  })
  try {
    renameSync(temp, dir)
  } catch (error) {
    // Another command built the same bundle first.
    rmSync(temp, { recursive: true, force: true })
    if (!existsSync(join(dir, 'main.js'))) throw error
  }
  // Bundles of earlier sources, once a day has passed: a server started from one may still load
  // its lazy chunks, and an interrupted build's temporary folder is left to the same rule.
  const dayAgo = Date.now() - 86_400_000
  for (const old of readdirSync(cache)) {
    if (old !== key && statSync(join(cache, old)).mtimeMs < dayAgo) rmSync(join(cache, old), { recursive: true, force: true })
  }
  return dir
}

/** Bundles the workspace's packages only; each dependency is imported by its resolved file, so Node.js loads what it loaded before. */
function workspaceOnly() {
  const builtins = new Set(builtinModules)
  return {
    name: 'arachnid-workspace-only',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.path.startsWith('@arachnid/') || args.pluginData?.inner) return undefined
        if (args.path.startsWith('node:') || builtins.has(args.path)) return { path: args.path, external: true }
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { inner: true } })
        if (resolved.errors.length > 0) return { errors: resolved.errors }
        return { path: pathToFileURL(resolved.path).href, external: true }
      })
      build.onLoad({ filter: /\.(ts|mts|js|mjs)$/ }, (args) => {
        if (!args.path.startsWith(join(root, 'packages'))) return undefined
        const source = readFileSync(args.path, 'utf8')
        if (!source.includes('import.meta.url')) return undefined
        return {
          contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
          loader: args.path.endsWith('ts') ? 'ts' : 'js',
        }
      })
    },
  }
}
