import type { HashErrorCode } from './hash-error.js'
import type { HashOptions } from './hash-options.js'
import type { ImageHashes } from './image-hashes.js'

/** What the pool sends a worker: one input to hash. */
export interface WorkerRequest {
  readonly id: number
  readonly bytes: Uint8Array
}

/** What a worker answers: hashes, or the error as plain data (classes do not survive structured cloning). */
export type WorkerResponse =
  | { readonly id: number; readonly ok: true; readonly hashes: ImageHashes }
  | { readonly id: number; readonly ok: false; readonly error: { readonly code: HashErrorCode; readonly message: string } }

/** `workerData` of every worker. */
export interface WorkerSetup {
  readonly options: HashOptions
}
