import { parentPort } from 'node:worker_threads'
import { searchTables } from './batched-search.js'
import type { SearchRequest, SearchResponse } from './hamming-threads.js'

// One batch at a time: the index's tables arrive as views of SharedArrayBuffers (no copy), the
// probes as a copy, the hits go back transferred.
const port = parentPort!
port.on('message', (request: SearchRequest) => {
  try {
    const hits = searchTables(request.tables, request.probes, request.count, request.threshold)
    const response: SearchResponse = { id: request.id, ok: true, hits }
    port.postMessage(response, [hits.probes.buffer as ArrayBuffer, hits.positions.buffer as ArrayBuffer, hits.distances.buffer as ArrayBuffer])
  } catch (error) {
    port.postMessage({ id: request.id, ok: false, error: String((error as Error)?.stack ?? error) } satisfies SearchResponse)
  }
})
