import type { AddressInfo } from 'node:net'
import { ConfigError } from '@arachnid/core/errors'
import type { FastifyInstance } from 'fastify'

export interface ListenOptions {
  readonly port: number
  readonly host: string
  /** Where the user chooses the port, for the message (e.g. "--port or ARACHNID_SERVE_PORT"). */
  readonly portHint: string
  /** Where the user chooses the address, for the message (e.g. "--host or ARACHNID_SERVE_HOST"). Default: the port's. */
  readonly hostHint?: string
}

/**
 * Listens, and resolves to the bound port. What the user can fix is one line, a ConfigError:
 * the port in use, a port not allowed, an address not of this machine, a name that does not
 * resolve.
 *
 * @example
 * const port = await listen(app, { port: 0, host: '127.0.0.1', portHint: '--metrics-port' })
 */
export async function listen(app: FastifyInstance, options: ListenOptions): Promise<number> {
  try {
    await app.listen({ port: options.port, host: options.host })
  } catch (error) {
    throw listenError(error as NodeJS.ErrnoException, options)
  }
  return (app.server.address() as AddressInfo).port
}

function listenError(error: NodeJS.ErrnoException, o: ListenOptions): Error {
  const where = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`
  const hostHint = o.hostHint ?? o.portHint
  switch (error.code) {
    case 'EADDRINUSE': return new ConfigError(`cannot listen on ${where}: the port is in use (choose another with ${o.portHint}; 0 picks a free one)`, { cause: error })
    case 'EACCES': return new ConfigError(`cannot listen on ${where}: not allowed (ports below 1024 need privileges; choose another with ${o.portHint})`, { cause: error })
    case 'EADDRNOTAVAIL': return new ConfigError(`cannot listen on ${where}: ${o.host} is not an address of this machine (see ${hostHint})`, { cause: error })
    case 'ENOTFOUND': case 'EAI_AGAIN': return new ConfigError(`cannot listen on ${where}: ${o.host} does not resolve (see ${hostHint})`, { cause: error })
    default: return error
  }
}
