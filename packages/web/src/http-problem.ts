import { ArachnidError, CriticalError, NonRetryableError } from '@arachnid/core/errors'
import type { FastifyRequest } from 'fastify'

/**
 * A refusal with the HTTP status it answers (404 no such item, 403 not your role, 409 decided
 * already...). Its message is shown to the client, whatever the status: throw one only with words
 * meant for the client.
 *
 * @example
 * throw new HttpError(404, 'NOT_FOUND', 'no such item')
 */
export class HttpError extends NonRetryableError {
  readonly status: number
  constructor(status: number, code: string, message: string, options: { readonly cause?: unknown } = {}) {
    super(code, message, options)
    this.status = status
  }
}

/** What a failed request answers: the status, a stable code and a message for the client. */
export interface Problem {
  readonly status: number
  readonly code: string
  readonly message: string
}

/** The same problem, and whether it is an unexpected failure (logged, and shown as INTERNAL only). */
export interface ClassifiedProblem extends Problem {
  readonly internal: boolean
}

const INTERNAL: ClassifiedProblem = { status: 500, code: 'INTERNAL', message: 'internal error', internal: true }

/** Fastify's own request errors, by code: what they mean to a client. */
const FRAMEWORK_ERRORS: Readonly<Record<string, Problem>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'TOO_LARGE', message: 'request body too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send JSON or a form' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'BAD_JSON', message: 'the body is not a JSON object' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'BAD_JSON', message: 'the body is not a JSON object' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_REQUEST', message: 'the body does not match its Content-Length' },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_URL', message: 'bad request line' },
}

interface ValidationIssue {
  readonly instancePath?: string
  readonly keyword?: string
  readonly params?: Record<string, unknown>
  readonly message?: string
}

interface FrameworkError extends Error {
  readonly code?: string
  readonly statusCode?: number
  readonly validation?: readonly ValidationIssue[]
  readonly validationContext?: string
}

/**
 * Maps any thrown value to what the client is told, by @arachnid/core's error hierarchy:
 * - an `HttpError` (or any ArachnidError carrying a `status`): that status, code and message;
 * - a `CriticalError` (the process cannot go on: database gone, bad configuration): 500 INTERNAL;
 * - a retryable error (a passing fault): 503 UNAVAILABLE, "try again later";
 * - any other `NonRetryableError` (bad input that will never succeed): 400 with its code and message;
 * - JSON-schema validation: 400 naming the field, its value and what is allowed (`config.badRequestCode`
 *   of the route, else BAD_QUERY for the query string, BAD_REQUEST for the body); a path that does not
 *   fit its route's parameters names nothing: 404;
 * - Fastify's own request errors (body too large, unsupported type, bad JSON): 413, 415, 400;
 * - anything else: 500 INTERNAL, with nothing of its cause (that goes to the log).
 *
 * @example
 * problemOf(new HttpError(404, 'NOT_FOUND', 'no such item')) // { status: 404, code: 'NOT_FOUND', message: 'no such item', internal: false }
 */
export function problemOf(error: unknown, request?: FastifyRequest): ClassifiedProblem {
  if (error instanceof ArachnidError) {
    const status = (error as ArachnidError & { status?: unknown }).status
    if (typeof status === 'number' && status >= 400 && status <= 599) return { status, code: error.code, message: error.message, internal: false }
    if (error instanceof CriticalError) return INTERNAL
    if (error.retryable) return { status: 503, code: 'UNAVAILABLE', message: 'temporarily unavailable; try again later', internal: true }
    return { status: 400, code: error.code, message: error.message, internal: false }
  }
  const e = error as FrameworkError | null
  if (e && Array.isArray(e.validation)) return validationProblem(e, request)
  const known = e?.code ? FRAMEWORK_ERRORS[e.code] : undefined
  if (known) return { ...known, internal: false }
  // Other client errors from Fastify or its plugins (their messages are about the request, not us).
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, code: e.statusCode === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message: e.message, internal: false }
  }
  return INTERNAL
}

interface FieldSchema {
  readonly description?: string
  readonly properties?: Record<string, FieldSchema>
}

/**
 * One line naming the field, its value and what is allowed, from the route's own schema: each
 * field's `description` says what it takes (see `field`), so the message and the OpenAPI document
 * say the same thing.
 */
function validationProblem(error: FrameworkError, request: FastifyRequest | undefined): ClassifiedProblem {
  const issue = error.validation![0] ?? {}
  const where = error.validationContext ?? 'body'
  if (where === 'params') return { status: 404, code: 'NOT_FOUND', message: 'no such route', internal: false }
  const config = request?.routeOptions.config as { badRequestCode?: string } | undefined
  const code = config?.badRequestCode ?? (where === 'querystring' ? 'BAD_QUERY' : 'BAD_REQUEST')
  const missing = issue.keyword === 'required' ? String(issue.params?.missingProperty ?? '') : undefined
  const name = missing ?? (issue.instancePath ?? '').split('/').filter(Boolean)[0]
  if (!name) {
    const message = where === 'body' ? 'the body is not a JSON object' : `${where}: ${issue.message ?? 'invalid'}`
    return { status: 400, code: where === 'body' ? 'BAD_JSON' : code, message, internal: false }
  }
  const schemas = request?.routeOptions.schema as Record<string, FieldSchema | undefined> | undefined
  const expected = schemas?.[where]?.properties?.[name]?.description ?? issue.message ?? 'a valid value'
  if (missing !== undefined) return { status: 400, code, message: `${where === 'querystring' ? 'query parameter ' : ''}${name} is required: expected ${expected}`, internal: false }
  if (where === 'querystring') {
    // The value as sent (the validator may have coerced it), shortened when it is too long to repeat.
    const raw = new URLSearchParams(request?.url.split('?')[1] ?? '').get(name) ?? ''
    const shown = issue.keyword === 'maxLength' ? `${raw.slice(0, 20)}...` : raw
    return { status: 400, code, message: `query parameter ${name}=${JSON.stringify(shown)}: expected ${expected}`, internal: false }
  }
  const value = (request?.body as Record<string, unknown> | undefined)?.[name]
  const shown = typeof value === 'string' && value.length > 40 ? `${value.slice(0, 20)}...` : value
  return { status: 400, code, message: `${name} ${JSON.stringify(shown) ?? String(shown)}: expected ${expected}`, internal: false }
}
