// Plain-JavaScript entry of a `Hasher` worker thread. The sources are TypeScript run without a
// build step, and neither tsx's nor vitest's loader reaches worker threads, so this registers
// tsx's loader in the worker before loading the worker module. (A failed import cannot simply be
// retried after registering: Node caches the failure for the URL.)
const { register } = await import('tsx/esm/api')
register()
await import(new URL('./hash-worker.ts', import.meta.url).href)
