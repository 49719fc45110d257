import { describeError } from '@arachnid/core'
import { HttpError, field } from '@arachnid/web'
import type { FastifyPluginAsync } from 'fastify'
import { appendAudit } from '../audit-log.js'
import type { ReviewContext } from '../review-context.js'
import { countPreview } from '../suspect-queue.js'
import { mediaParams } from './queue-routes.js'

/**
 * Live previews: a POST (so it needs the CSRF token), audited before the fetch, fetched and
 * rendered in memory by the MediaPreviewer, sent with `Cache-Control: no-store` and never stored.
 * Each analyst may ask for a bounded number per minute (@fastify/rate-limit): every preview is a
 * fetch from the web. Each preview shown counts towards the session's well-being prompt: past the
 * suspect policy's `previewsBeforeBreak`, the answer carries `X-Arachnid-Break: suggested` (and the
 * pages show the prompt) until the analyst says they took a break.
 */
export const previewRoutes: FastifyPluginAsync<ReviewContext> = async (app, { db, previewer, metrics, previewRateLimit }) => {
  app.post<{ Params: { mediaId: number }; Body: { obscure?: boolean; reason?: string; at?: number } | undefined }>('/api/items/:mediaId/preview', {
    config: {
      access: 'api', name: 'preview',
      rateLimit: { max: previewRateLimit.max, timeWindow: previewRateLimit.windowMs, keyGenerator: (request) => `analyst:${request.analystSession?.analyst.id ?? request.ip}` },
    },
    schema: {
      description: 'A live preview of the media from its latest URL, as PNG: blurred and greyscale unless obscure is false; of a video, the frame where its first match lies (or at `at` seconds). Audited.',
      params: mediaParams,
      body: { type: 'object', properties: { obscure: field.boolean(), reason: field.text(2000), at: { type: 'number', minimum: 0, maximum: 7 * 24 * 3600 } } },
    },
  }, async (request, reply) => {
    const mediaId = request.params.mediaId
    const obscure = request.body?.obscure !== false
    const source = await previewer.sourceOf(mediaId)
    if (!source) throw new HttpError(404, 'NOT_FOUND', 'no URL to preview this media from')
    // Logged before the fetch: asking to see the material is the act that is audited.
    const { analyst } = request.analystSession!
    const at = request.body?.at
    await appendAudit(db, { actor: { id: analyst.id, name: analyst.name }, action: 'preview', subject: `media:${mediaId}`, reason: request.body?.reason, detail: { url: source.url, obscured: obscure, ...(source.kind === 'video' ? { video: true, at: at ?? 'first match' } : {}) } })
    let preview
    try {
      preview = await previewer.preview(mediaId, { obscure, ...(at === undefined ? {} : { at }) })
    } catch (error) {
      metrics.previews.inc({ outcome: 'failed', obscured: String(obscure) })
      const { code, message } = describeError(error)
      throw new HttpError(502, code, `the source could not be previewed: ${message}`, { cause: error })
    }
    metrics.previews.inc({ outcome: 'ok', obscured: String(obscure) })
    const wellbeing = await countPreview(db, { tokenHash: request.analystSession!.tokenHash, analyst: { id: analyst.id, name: analyst.name } })
    return reply.type('image/png').headers({
      'x-arachnid-previews': String(wellbeing.previews), ...(wellbeing.breakSuggested ? { 'x-arachnid-break': 'suggested' } : {}),
      'content-disposition': 'inline', 'x-arachnid-source': encodeURI(preview.url),
      'x-arachnid-same-content': String(preview.sameContent), 'x-arachnid-obscured': String(obscure),
      ...(preview.frameAt === undefined ? {} : { 'x-arachnid-frame-at': String(preview.frameAt) }),
    }).send(preview.png)
  })
}
