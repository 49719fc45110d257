// Plain-JavaScript entry of a Hamming search worker thread. The sources are TypeScript run without
// a build step, and neither tsx's nor vitest's loader reaches worker threads, so this registers
// tsx's loader in the worker before loading the worker module (as @arachnid/hasher's workers do).
const { register } = await import('tsx/esm/api')
register()
await import(new URL('./hamming-worker.ts', import.meta.url).href)
