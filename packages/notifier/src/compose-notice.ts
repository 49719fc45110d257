import { createHash } from 'node:crypto'

export interface NoticeMatch {
  readonly list: string
  readonly algorithm: string
  readonly distance: number
  readonly category: string | null
  readonly externalId: string | null
  /** A video's match: where in the video (seconds) the matching frames lie. */
  readonly timestamps?: readonly number[]
  /** A video matched to a known video: the share of its frames that matched (0..1). */
  readonly share?: number
}

/** Seconds as m:ss (or h:mm:ss), as a player shows them. */
export function formatTimestamp(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

/**
 * Where in a video a match lies, for people: consecutive seconds as ranges ("0:05-0:11, 0:20"),
 * at most `max` ranges and then how many more.
 */
export function describeTimestamps(timestamps: readonly number[], max = 8): string {
  const seconds = [...new Set(timestamps.map((t) => Math.floor(t)))].sort((a, b) => a - b)
  const ranges: [number, number][] = []
  for (const t of seconds) {
    const last = ranges.at(-1)
    if (last && t <= last[1] + 1) last[1] = t
    else ranges.push([t, t])
  }
  const shown = ranges.slice(0, max).map(([a, b]) => (a === b ? formatTimestamp(a) : `${formatTimestamp(a)}-${formatTimestamp(b)}`))
  return shown.join(', ') + (ranges.length > max ? ` and ${ranges.length - max} more` : '')
}

/** One matched list as a notice names it: list, algorithm, distance, and where in a video. */
function describeMatch(m: NoticeMatch, details: boolean): string {
  const extras = [
    `${m.algorithm}, distance ${m.distance}`,
    ...(m.share !== undefined ? [`${Math.round(m.share * 100)}% of the video's frames`] : []),
    ...(details && m.category ? [`category ${m.category}`] : []),
    ...(details && m.externalId ? [`entry ${m.externalId}`] : []),
  ]
  const at = m.timestamps && m.timestamps.length > 0 ? ` at ${describeTimestamps(m.timestamps)} in the video` : ''
  return `${m.list} (${extras.join(', ')})${at}`
}

export interface NoticeIncident {
  readonly reference: string
  readonly mediaUrl: string
  readonly finalUrl: string
  readonly pageUrls: readonly string[]
  readonly serverIp: string | null
  readonly detectedAt: Date
  readonly hashes: { readonly sha256: string; readonly md5: string; readonly sha1: string; readonly blockhash?: string; readonly pdq?: string }
  readonly matches: readonly NoticeMatch[]
}

export interface Reporter {
  readonly name: string
  /** "Name <address>" or a bare address. */
  readonly from: string
}

export interface ComposedEmail {
  readonly subject: string
  readonly text: string
  readonly html: string
  readonly attachments: { filename: string; contentType: string; content: string }[]
}

/** The idempotency key of the notice for a media URL: one notice per URL, whatever the run. */
export function noticeKey(mediaUrl: string): string {
  return `notice:${createHash('sha256').update(mediaUrl).digest('hex')}`
}

const BASE32 = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'

/** A short reference that stays the same for the same notice key (in every reminder too). */
export function referenceFor(key: string): string {
  const digest = createHash('sha256').update(key).digest()
  let out = ''
  for (let i = 0; i < 10; i++) out += BASE32[digest[i]! % 32]
  return `ARN-${out.slice(0, 5)}-${out.slice(5)}`
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

function detectionMethod(matches: readonly NoticeMatch[]): string {
  return matches.some((m) => ['sha256', 'md5', 'sha1'].includes(m.algorithm)) ? 'hash_match_exact' : 'hash_match_perceptual'
}

const HASH_ORDER = ['sha256', 'md5', 'sha1', 'blockhash', 'pdq'] as const

/** The machine-readable XARF v4 report of one incident: URLs, hashes and references, never an image. */
export function xarfReport(incident: NoticeIncident, reporter: Reporter): Record<string, unknown> {
  const contact = /<([^>]+)>/.exec(reporter.from)?.[1] ?? reporter.from
  const categories = [...new Set(incident.matches.map((m) => m.category).filter((c): c is string => c !== null))]
  return {
    xarf_version: '4.0.0',
    report_id: incident.reference,
    timestamp: incident.detectedAt.toISOString(),
    reporter: { org: reporter.name, contact, domain: contact.split('@')[1] ?? '', type: 'automated' },
    source_identifier: incident.serverIp ?? new URL(incident.finalUrl).hostname,
    category: 'content',
    type: 'csam',
    url: incident.mediaUrl,
    final_url: incident.finalUrl,
    page_urls: incident.pageUrls,
    classification: categories.length > 0 ? categories : ['known-material'],
    detection_method: detectionMethod(incident.matches),
    // A fixed order: the stored incident may come back from jsonb with its keys reordered.
    hash_values: HASH_ORDER.filter((algorithm) => incident.hashes[algorithm]).map((algorithm) => ({ algorithm, value: incident.hashes[algorithm]! })),
    matched_lists: incident.matches.map((m) => ({
      list: m.list, algorithm: m.algorithm, distance: m.distance, reference: m.externalId,
      ...(m.timestamps && m.timestamps.length > 0 ? { video_timestamps: [...m.timestamps] } : {}),
      ...(m.share !== undefined ? { video_match_share: m.share } : {}),
    })),
    evidence_source: 'automated_crawler',
    confidence: incident.matches.some((m) => m.distance === 0) ? 1.0 : 0.9,
    tags: ['priority:critical'],
  }
}

export const EMAIL_KINDS = ['notice', 'reminder', 'escalation'] as const
export type EmailKind = (typeof EMAIL_KINDS)[number]

/** Operator-supplied opening paragraphs; `{{provider}}`, `{{reporter}}`, `{{reference}}`, `{{kind}}` are filled in. */
export interface NoticeTemplates {
  readonly introText?: string
  readonly introHtml?: string
}

export interface ComposeOptions {
  readonly kind?: EmailKind
  /** Which reminder or escalation this is (1-based). */
  readonly sequence?: number
  /** Signed acknowledgement link for this notice. */
  readonly ackUrl?: string
  /** For escalations: the provider hosting the material (the recipient's customer). */
  readonly hostedBy?: string
  /** For reminders and escalations: when the first notice was sent. */
  readonly firstNoticeAt?: Date | null
  readonly templates?: NoticeTemplates
}

function fill(template: string, values: Record<string, string>, escape: (v: string) => string): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => (name in values ? escape(values[name]!) : whole))
}

/**
 * The notice email for a provider: a plain-text part, an HTML part, and the XARF JSON of each
 * incident as an attachment. The subject carries the reference ID, the same in every reminder
 * and escalation. No image is ever attached.
 */
export function composeNotice(incidents: readonly NoticeIncident[], provider: { name: string }, reporter: Reporter, options: ComposeOptions = {}): ComposedEmail {
  const first = incidents[0]
  if (first === undefined) throw new Error('a notice needs at least one incident')
  const kind = options.kind ?? 'notice'
  const host = new URL(first.mediaUrl).host
  const lead = kind === 'reminder' ? `Reminder ${options.sequence ?? 1}: ` : kind === 'escalation' ? 'Escalation: ' : ''
  const subject = `[${first.reference}] ${lead}Removal request: known child sexual abuse material hosted at ${host}`
  const since = options.firstNoticeAt ? ` since ${options.firstNoticeAt.toISOString()}` : ''
  const situation = kind === 'reminder'
    ? `This is reminder ${options.sequence ?? 1} about material we reported to you${since}. It was still online at our last check.`
    : kind === 'escalation'
      ? `We are writing to you as the upstream network of ${options.hostedBy ?? 'a provider on your network'}, which has not removed the material below despite our notices${since}. Please have it removed.`
      : ''
  const values = { provider: provider.name, reporter: reporter.name, reference: first.reference, kind }
  const introText = options.templates?.introText
    ? fill(options.templates.introText, values, (v) => v)
    : `${reporter.name} found material on your network that matches hashes of known child sexual abuse material.\n`
      + 'Please remove it and keep any records your law requires. No image is attached to this message: only addresses and hashes.'
  const introHtml = options.templates?.introHtml
    ? fill(options.templates.introHtml, values, escapeHtml)
    : `<p>${escapeHtml(reporter.name)} found material on your network that matches hashes of known child sexual abuse material. `
      + 'Please remove it and keep any records your law requires. No image is attached to this message: only addresses and hashes.</p>'
  const lines: string[] = [
    `To the abuse desk of ${provider.name},`,
    '',
    ...(situation ? [situation, ''] : []),
    introText,
    '',
  ]
  const htmlParts: string[] = [
    `<p>To the abuse desk of ${escapeHtml(provider.name)},</p>`,
    ...(situation ? [`<p>${escapeHtml(situation)}</p>`] : []),
    introHtml,
  ]
  for (const incident of incidents) {
    const hashLines = HASH_ORDER.filter((k) => incident.hashes[k]).map((k) => `  ${k.padEnd(9)} ${incident.hashes[k]}`)
    const matchLines = incident.matches.map((m) => `  ${describeMatch(m, true)}`)
    lines.push(
      `Reference:     ${incident.reference}`,
      `Media URL:     ${incident.mediaUrl}`,
      ...(incident.finalUrl !== incident.mediaUrl ? [`Served from:   ${incident.finalUrl}`] : []),
      `Server IP:     ${incident.serverIp ?? 'unknown'}`,
      `Detected at:   ${incident.detectedAt.toISOString()}`,
      'Seen on pages:', ...(incident.pageUrls.length > 0 ? incident.pageUrls.map((u) => `  ${u}`) : ['  (linked directly)']),
      'Hashes of the content:', ...hashLines,
      'Matched known-hash lists:', ...matchLines,
      '',
    )
    htmlParts.push(
      `<h3>Reference ${escapeHtml(incident.reference)}</h3>`,
      '<table>',
      `<tr><th align="left">Media URL</th><td>${escapeHtml(incident.mediaUrl)}</td></tr>`,
      `<tr><th align="left">Server IP</th><td>${escapeHtml(incident.serverIp ?? 'unknown')}</td></tr>`,
      `<tr><th align="left">Detected at</th><td>${escapeHtml(incident.detectedAt.toISOString())}</td></tr>`,
      `<tr><th align="left">Seen on pages</th><td>${incident.pageUrls.map(escapeHtml).join('<br>') || '(linked directly)'}</td></tr>`,
      ...HASH_ORDER.filter((k) => incident.hashes[k]).map((k) => `<tr><th align="left">${escapeHtml(k)}</th><td><code>${escapeHtml(String(incident.hashes[k]))}</code></td></tr>`),
      `<tr><th align="left">Matched lists</th><td>${incident.matches.map((m) => escapeHtml(describeMatch(m, false))).join('<br>')}</td></tr>`,
      '</table>',
    )
  }
  if (options.ackUrl) {
    lines.push('Tell us when it is removed, or dispute this notice, without an account:', `  ${options.ackUrl}`, '')
    htmlParts.push(`<p><a href="${escapeHtml(options.ackUrl)}">Tell us it is removed, or dispute this notice</a> (no account needed).</p>`)
  }
  lines.push(`Please keep the reference ${first.reference} in any reply. The XARF report of each incident is attached as JSON.`)
  htmlParts.push(`<p>Please keep the reference <strong>${escapeHtml(first.reference)}</strong> in any reply. The XARF report of each incident is attached as JSON.</p>`)
  return {
    subject,
    text: lines.join('\n'),
    html: `<!doctype html><html><body>${htmlParts.join('\n')}</body></html>`,
    attachments: incidents.map((incident) => ({
      filename: `xarf-${incident.reference}.json`,
      contentType: 'application/json',
      content: JSON.stringify(xarfReport(incident, reporter), null, 2),
    })),
  }
}
