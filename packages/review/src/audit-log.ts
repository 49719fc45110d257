import { type Database, type Kysely, sql } from '@arachnid/core'

/** Who acted: an analyst, or a named system actor (the CLI) with no account. */
export interface Actor {
  readonly id: number | null
  readonly name: string
}

export const AUDIT_ACTIONS = [
  'login', 'login-failed', 'logout', 'confirm', 'confirm-vote', 'reject', 'escalate', 'preview',
  'policy-change', 'list-review-change', 'analyst-add', 'analyst-disable', 'notice-upheld', 'notice-withdrawn',
  'classify-vote', 'classify', 'suspect-policy-change', 'list-suspects-change', 'break-suggested', 'break-taken',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

export interface AuditEntry {
  readonly id: string
  readonly at: Date
  readonly actor: string
  readonly action: string
  readonly subject: string | null
  readonly reason: string | null
  readonly detail: Record<string, unknown>
}

/**
 * Appends one entry to the audit log. There is deliberately no update or delete here: the log is
 * append-only in code, and the database refuses UPDATE, DELETE and TRUNCATE on it (a trigger).
 */
export async function appendAudit(
  db: Kysely<Database>,
  entry: { readonly actor: Actor; readonly action: AuditAction; readonly subject?: string; readonly reason?: string; readonly detail?: Record<string, unknown> },
): Promise<string> {
  const row = await db.insertInto('audit_log').values({
    actor_id: entry.actor.id, actor: entry.actor.name, action: entry.action, subject: entry.subject ?? null,
    reason: entry.reason?.trim() ? entry.reason.trim().slice(0, 2000) : null, detail: JSON.stringify(entry.detail ?? {}),
  }).returning('id').executeTakeFirstOrThrow()
  return String(row.id)
}

export interface AuditQuery {
  /** Entries older than this id (paging backwards). */
  readonly before?: string
  readonly actor?: string
  readonly action?: string
  /** e.g. "media:12". */
  readonly subject?: string
  /** Default 100, at most 500. */
  readonly limit?: number
}

/** Audit entries, newest first. */
export async function listAudit(db: Kysely<Database>, query: AuditQuery = {}): Promise<AuditEntry[]> {
  let q = db.selectFrom('audit_log').select(['id', 'at', 'actor', 'action', 'subject', 'reason', 'detail'])
    .orderBy('id', 'desc').limit(Math.min(Math.max(1, query.limit ?? 100), 500))
  if (query.before && /^\d+$/.test(query.before)) q = q.where('id', '<', sql<string>`${query.before}::bigint`)
  if (query.actor) q = q.where('actor', '=', query.actor)
  if (query.action) q = q.where('action', '=', query.action)
  if (query.subject) q = q.where('subject', '=', query.subject)
  const rows = await q.execute()
  return rows.map((r) => ({ id: String(r.id), at: r.at, actor: r.actor, action: r.action, subject: r.subject, reason: r.reason, detail: r.detail }))
}
