/**
 * Preloaded into the bench's worker processes (NODE_OPTIONS=--import): counts the SQL statements
 * the process sends through node-postgres, by kind (the statement's first words), and writes them
 * with the process's CPU time to $ARACHNID_BENCH_COUNTS-<pid>.json when it exits (a child process
 * the worker starts preloads this too: each writes its own file). Measurement only.
 */
import { createRequire } from 'node:module'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const out = process.env.ARACHNID_BENCH_COUNTS
if (out) {
  const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../packages/core/package.json'))
  const pg = require('pg')
  const counts = new Map()
  let total = 0
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (config, ...rest) {
    const text = typeof config === 'string' ? config : config?.text
    if (typeof text === 'string') {
      total++
      const kind = text.replace(/\s+/g, ' ').trim().slice(0, 70)
      counts.set(kind, (counts.get(kind) ?? 0) + 1)
    }
    return query.call(this, config, ...rest)
  }
  // ARACHNID_BENCH_PROFILE=DIR: a CPU profile of the process too, written there at exit.
  const profileDir = process.env.ARACHNID_BENCH_PROFILE
  const session = profileDir ? new Session() : undefined
  if (session) {
    session.connect()
    session.post('Profiler.enable')
    session.post('Profiler.setSamplingInterval', { interval: 1000 })
    session.post('Profiler.start')
  }
  // CPU per thread, by thread name: the main thread as 'main'; on Node 20 every other thread
  // Node starts (worker threads, libuv's pool, V8's helpers) is named 'node', and libvips' and
  // glib's threads have their own names. Sampled every 0.5 s, since threads that end before the
  // process are gone from /proc at exit.
  const threads = new Map()
  const sampleThreads = () => {
    try {
      for (const tid of readdirSync('/proc/self/task')) {
        try {
          const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
          const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
          threads.set(tid, { name: tid === String(process.pid) ? 'main' : name, ticks: Number(fields[11]) + Number(fields[12]) })
        } catch {
          // the thread ended between the listing and the read
        }
      }
    } catch {
      // no /proc (not Linux): no breakdown
    }
  }
  setInterval(sampleThreads, 500).unref()
  process.on('exit', () => {
    sampleThreads()
    const byName = {}
    for (const { name, ticks } of threads.values()) byName[name] = Math.round(((byName[name] ?? 0) + ticks / 100) * 100) / 100
    session?.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(path.join(profileDir, `worker-${process.pid}.cpuprofile`), JSON.stringify(result.profile))
    })
    const cpu = process.cpuUsage()
    writeFileSync(`${out}-${process.pid}.json`, JSON.stringify({
      pid: process.pid, total, cpuSeconds: (cpu.user + cpu.system) / 1e6, threadCpuSeconds: byName,
      kinds: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])),
    }, null, 1))
  })
}
