import { parentPort, workerData } from 'node:worker_threads'
import { HashError } from './hash-error.js'
import { hashImage } from './hash-image.js'
import type { WorkerRequest, WorkerResponse, WorkerSetup } from './worker-protocol.js'

// Entry point of one `Hasher` worker thread: hashes each request with the pool's options.
const port = parentPort
if (port === null) throw new Error('hash-worker must run as a worker thread')
const { options } = workerData as WorkerSetup

port.on('message', (request: WorkerRequest) => {
  hashImage(request.bytes, options).then(
    (hashes) => port.postMessage({ id: request.id, ok: true, hashes } satisfies WorkerResponse),
    (error: unknown) => {
      const reply: WorkerResponse =
        error instanceof HashError
          ? { id: request.id, ok: false, error: { code: error.code, message: error.message } }
          : { id: request.id, ok: false, error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } }
      port.postMessage(reply)
    },
  )
})
