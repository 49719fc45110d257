import { readFile, stat } from 'node:fs/promises'
import type { Command } from 'commander'
import { describeError, loadConfig } from '@arachnid/core'
import { Hasher } from '@arachnid/hasher'

// The hasher's order (ThreatExchange's reference order).
const DIHEDRAL_NAMES = ['original', 'rotate 90', 'rotate 180', 'rotate 270', 'flip x', 'flip y', 'flip +1', 'flip -1'] as const

export function registerHash(program: Command): void {
  program.command('hash')
    .description('hash local image files (sha256, md5, sha1, blockhash, PDQ); never stops at a bad file')
    .argument('<files...>', 'image files')
    .option('--json', 'one JSON object per line')
    .option('--dihedral', 'add the 8 PDQ dihedral hashes (rotations and flips)')
    .action(async (files: string[], options: { json?: boolean; dihedral?: boolean }) => {
      const config = loadConfig()
      const hasher = new Hasher({ maxBytes: config.maxMediaBytes, maxPixels: config.maxPixels, dihedral: options.dihedral === true })
      let failures = 0
      try {
        // Hash in parallel, print in the order given.
        const pending = files.map(async (file) => {
          try {
            const info = await stat(file)
            if (info.size > config.maxMediaBytes) {
              throw Object.assign(new Error(`file of ${info.size} bytes exceeds ${config.maxMediaBytes}`), { code: 'TOO_LARGE' })
            }
            const h = await hasher.hash(await readFile(file))
            return {
              file, sha256: h.sha256, md5: h.md5, sha1: h.sha1, blockhash: h.blockhash, pdq: h.pdq, pdqQuality: h.pdqQuality,
              width: h.width, height: h.height, format: h.format, ...(options.dihedral ? { pdqDihedral: h.pdqDihedral } : {}),
            }
          } catch (error) {
            const { code, message } = describeError(error)
            return { file, error: { code: code === 'ENOENT' ? 'NOT_FOUND' : code, message } }
          }
        })
        for (const result of pending) {
          const r = await result
          if ('error' in r && r.error) failures++
          if (options.json) process.stdout.write(`${JSON.stringify(r)}\n`)
          else if ('error' in r && r.error) process.stdout.write(`${r.file}: ${r.error.code}: ${r.error.message}\n`)
          else if ('sha256' in r) {
            process.stdout.write(`${r.file}: ${r.format} ${r.width}x${r.height}\n  sha256 ${r.sha256}\n  md5 ${r.md5}\n  sha1 ${r.sha1}\n  blockhash ${r.blockhash}\n  pdq ${r.pdq} (quality ${r.pdqQuality})\n`)
            if (r.pdqDihedral) r.pdqDihedral.forEach((h, i) => process.stdout.write(`  pdq ${(DIHEDRAL_NAMES[i] ?? `transform ${i}`).padEnd(10)} ${h}\n`))
          }
        }
      } finally {
        await hasher.close()
      }
      if (failures > 0) process.exitCode = 1
    })
}
