import type { ReviewPolicy, SuspectPolicy } from '@arachnid/matcher'
import { type SafeHtml, html } from '@arachnid/web/html'
import { type Analyst, hasRole } from './analyst-accounts.js'
import type { AuditEntry } from './audit-log.js'
import type { QueueFilters, QueueItem } from './review-queue.js'
import type { ReviewStats } from './review-stats.js'
import type { SuspectItem } from './suspect-queue.js'
import { barChart, pairedBarChart } from './svg-charts.js'

/*
 * The review pages, written with the one html tag of @arachnid/web: every value put into a page is
 * escaped unless it is HTML the tag made, so no page can forget to escape a list name, a URL or a
 * provider's words.
 */

const STYLE = html`
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{display:flex;gap:1.2em;align-items:center;padding:.6em 1em;background:#26344a;color:#fff}
header a{color:#fff}header form{margin-left:auto}main{padding:1em}
table{border-collapse:collapse;width:100%}td,th{padding:.3em .5em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
tr.item.selected{background:#dbe7ff;outline:2px solid #3a6fd8}code,.hash{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.layout{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1em}.panel{background:#fff;border:1px solid #ddd;padding:.8em}
.flash{padding:.5em;background:#e8f5e9;border:1px solid #9c9}.error{background:#fdecea;border-color:#e99}
kbd{border:1px solid #999;border-radius:3px;padding:0 .3em;background:#fff}
svg.chart{display:block;background:#fff;border:1px solid #ddd;margin:.5em 0}svg.chart .bar{fill:#3a6fd8}svg.chart .bar.b{fill:#a9c1ef}
svg.chart text{font:11px system-ui,sans-serif;fill:#333}svg.chart .title{font-weight:600}svg.chart .axis{stroke:#999}
.wellbeing{padding:.6em;background:#fff8e1;border:1px solid #e0c060;margin-bottom:1em}.muted{color:#666}form.inline{display:inline}label{margin-right:.8em}.dispute{margin-top:.3em;padding:.2em .4em;background:#fff4e0;border-left:3px solid #e0a030}q{quotes:none}
`

export function layout(title: string, body: SafeHtml, options: { readonly analyst?: Analyst; readonly csrfToken?: string; readonly script?: boolean } = {}): SafeHtml {
  const a = options.analyst
  const links = a && html`<nav><a href="/queue">Queue</a> <a href="/suspects">Suspects</a>${hasRole(a, 'supervisor') && html` <a href="/queue?queue=supervisors">Escalated</a> <a href="/audit">Audit log</a>`} <a href="/stats">Statistics</a>${hasRole(a, 'admin') && html` <a href="/policy">Policy</a>`}</nav>`
  const logout = a && html`<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${options.csrfToken}"><span>${a.name} (${a.role})</span> <button type="submit">Log out</button></form>`
  const csrf = options.csrfToken && html`<meta name="csrf-token" content="${options.csrfToken}">`
  const script = options.script && html`<script src="/static/review.js" defer></script>`
  const head = html`<meta charset="utf-8"><title>${title} - Arachnid review</title><meta name="viewport" content="width=device-width,initial-scale=1">${csrf}<style>${STYLE}</style>${script}`
  return html`<!doctype html><html lang="en"><head>${head}</head><body><header><strong>Arachnid review</strong>${links}${logout}</header><main><h1>${title}</h1>${body}</main></body></html>`
}

/** The page of a failed page request: the message (meant for the user) and nothing else. */
export function errorPage(message: string): SafeHtml {
  return layout('Error', html`<p class="flash error">${message}</p>`)
}

export function notFoundPage(): SafeHtml {
  return layout('Not found', html``)
}

export function loginPage(options: { readonly error?: string; readonly next?: string }): SafeHtml {
  return layout('Log in', html`${options.error && html`<p class="flash error" role="alert">${options.error}</p>`}
<form method="post" action="/login" class="panel" style="max-width:22em">
<input type="hidden" name="next" value="${options.next ?? '/queue'}">
<p><label>Name<br><input name="name" autocomplete="username" required autofocus></label></p>
<p><label>Password<br><input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Log in</button></p></form>`)
}

export function queuePage(items: readonly QueueItem[], filters: QueueFilters, choices: { readonly lists: readonly { id: number; name: string }[]; readonly providers: readonly string[] }, analyst: Analyst, csrfToken: string): SafeHtml {
  const option = (value: string | number, label: string, selected: boolean) => html`<option value="${value}"${selected && html` selected`}>${label}</option>`
  const form = html`<form method="get" action="/queue" class="panel" id="filters">
${filters.escalated && html`<input type="hidden" name="queue" value="supervisors">`}
<label>List <select name="list"><option value="">all</option>${choices.lists.map((l) => option(l.id, l.name, filters.listId === l.id))}</select></label>
<label>Provider <select name="provider"><option value="">all</option>${choices.providers.map((p) => option(p, p, filters.provider === p))}</select></label>
<label>Job <input name="job" size="6" inputmode="numeric" value="${filters.jobId ?? ''}"></label>
<button type="submit">Filter</button></form>`
  // A provider's dispute shows its words where the analyst looks first: in the "why waiting" cell.
  const disputes = (i: QueueItem) => i.disputes.map((d) => html`<div class="dispute">${d.provider ?? 'The provider'} disputes ${d.reference}: ${
    d.message ? html`&ldquo;<q>${d.message}</q>&rdquo;` : html`<span class="muted">(no reason given)</span>`}</div>`)
  const rows = items.map((i) => html`<tr class="item" data-media-id="${i.mediaId}" tabindex="-1">
<td>${i.mediaId}</td><td>${i.distance}</td><td>${i.algorithms.join(', ')}</td><td>${i.lists.join(', ')}</td><td>${i.reasons.join(', ')}${disputes(i)}</td>
<td>${i.provider ?? '-'}</td><td><code>${i.url ?? '-'}</code></td><td>${i.waitingSince.toISOString().replace('T', ' ').slice(0, 16)}</td><td>${i.votes.join(', ')}</td></tr>`)
  const table = items.length === 0
    ? html`<p id="empty">Nothing waits for review here.</p>`
    : html`<table id="queue"><thead><tr><th>media</th><th>distance</th><th>algorithms</th><th>lists</th><th>why waiting</th><th>provider</th><th>media URL</th><th>waiting since (UTC)</th><th>confirmed by</th></tr></thead><tbody>${rows}</tbody></table>`
  const help = html`<p class="muted">Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>c</kbd> confirm, <kbd>r</kbd> reject, <kbd>e</kbd> escalate, <kbd>p</kbd> show preview (logged). Media are not shown unless you ask.
On a disputed notice, confirm upholds the notice and reject withdraws it (the matches are rejected and the provider gets no more reminders).</p>`
  const panel = html`<section class="panel" id="decision-panel"><p id="flash" role="status" aria-live="polite"></p>
<p><label>Reason (recorded in the audit log)<br><input id="reason" size="50" maxlength="2000"></label></p>
<p><button type="button" data-decision="confirm">Confirm (c)</button> <button type="button" data-decision="reject">Reject (r)</button>
${!filters.escalated && html`<button type="button" data-decision="escalate">Escalate (e)</button>`}</p>
<p><button type="button" id="preview">Show preview (logged)</button> <label><input type="checkbox" id="unobscured"> without blur and greyscale</label></p>
<div id="preview-box"></div><div id="evidence" class="muted">Select an item.</div></section>`
  return layout(filters.escalated ? 'Escalated (supervisors)' : 'Review queue', html`${form}${help}<div class="layout"><section>${table}</section>${panel}</div>`, { analyst, csrfToken, script: true })
}

export function auditPage(entries: readonly AuditEntry[], analyst: Analyst, csrfToken: string, next: string | undefined): SafeHtml {
  const rows = entries.map((e) => html`<tr><td>${e.id}</td><td>${e.at.toISOString()}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.subject ?? ''}</td><td>${e.reason ?? ''}</td><td><code>${JSON.stringify(e.detail)}</code></td></tr>`)
  return layout('Audit log', html`<p class="muted">Append-only: every login, decision, preview and policy change, newest first.</p>
<table id="audit"><thead><tr><th>#</th><th>when (UTC)</th><th>who</th><th>what</th><th>subject</th><th>why</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table>
${next && html`<p><a href="/audit?before=${next}">Older</a></p>`}`, { analyst, csrfToken })
}

export function statsPage(stats: ReviewStats, analyst: Analyst, csrfToken: string): SafeHtml {
  const o = stats.removal.overall
  const hours = (h: number | null) => (h === null ? '-' : h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} d`)
  const pct = (v: number) => `${Math.round(v * 100)}%`
  const rows = [...stats.removal.providers, o].map((r) => html`<tr><td>${r.provider}</td><td>${r.notices}</td><td>${r.removed}</td><td>${r.open}</td><td>${hours(r.medianHoursToRemoval)}</td><td>${hours(r.p90HoursToRemoval)}</td><td>${pct(r.removedWithin24h)}</td><td>${pct(r.removedWithin72h)}</td><td>${r.reuploads}</td></tr>`)
  const table = html`<table id="removal"><thead><tr><th>provider</th><th>notices</th><th>removed</th><th>open</th><th>median</th><th>p90</th><th>&lt;24h</th><th>&lt;72h</th><th>re-uploads</th></tr></thead><tbody>${rows}</tbody></table>`
  const charts = [
    barChart(stats.noticesPerDay.map((d) => ({ label: d.day.slice(5), value: d.count })), { title: 'Notices per day (last 30 days)', labelEvery: 5, unit: 'notices' }),
    barChart(stats.timeToRemoval.overall.map((b) => ({ label: b.label, value: b.count })), { title: 'Time to removal, all providers', unit: 'notices' }),
    pairedBarChart(stats.removal.providers.map((p) => ({ label: p.provider, a: p.medianHoursToRemoval, b: p.p90HoursToRemoval })), { title: 'Time to removal per provider', aName: 'median', bName: '90th percentile' }),
    ...stats.timeToRemoval.providers.map((p) => barChart(p.buckets.map((b) => ({ label: b.label, value: b.count })), { title: `Time to removal: ${p.provider}`, width: 420, height: 180, unit: 'notices' })),
    barChart(stats.openAges.map((b) => ({ label: b.label, value: b.count })), { title: 'Age of open notices', unit: 'notices' }),
  ]
  return layout('Statistics', html`<p>Notices ${o.notices}, removed ${o.removed}, open ${o.open}; waiting for review: ${stats.queue.pending} media (${stats.queue.escalated} escalated);
suspects waiting for classification: ${stats.suspects.pending} (classified so far: csam ${stats.suspects.csam}, harmful-abusive-material ${stats.suspects.harmful}, not ${stats.suspects.not}).</p>
${table}<div id="charts">${charts.map((c) => html`${c}\n`)}</div>`, { analyst, csrfToken })
}

export function policyPage(policy: ReviewPolicy, lists: readonly { id: number; name: string; mode: string; priority: number; suspects?: boolean }[], analyst: Analyst, csrfToken: string, suspects?: SuspectPolicy): SafeHtml {
  const num = (name: string, value: number, label: string, max = 256) => html`<p><label>${label} <input name="${name}" type="number" min="0" max="${max}" value="${value}"></label></p>`
  const bool = (name: string, value: boolean, label: string) => html`<p><label><input name="${name}" type="checkbox"${value && html` checked`}> ${label}</label></p>`
  const modes = (current: string) => ['verified', 'review-required'].map((m) => html`<option${m === current && html` selected`}>${m}</option>`)
  const lrows = lists.map((l) => html`<tr><td>${l.name}</td><td><form class="inline" data-api="/api/lists/${l.id}/review">
<select name="mode">${modes(l.mode)}</select>
<label>priority <input name="priority" type="number" value="${l.priority}" size="4"></label><input name="reason" placeholder="reason"> <button type="submit">Save</button></form>
<form class="inline" data-api="/api/lists/${l.id}/suspects"><label><input name="suspects" type="checkbox"${l.suspects === true && html` checked`}> queues suspects (per-list mode)</label> <button type="submit">Save</button></form></td></tr>`)
  const smodes = (current: string) => ['off', 'on', 'per-list'].map((m) => html`<option${m === current && html` selected`}>${m}</option>`)
  const suspectForm = suspects && html`<h2>Suspects and well-being</h2><form class="panel" data-api="/api/suspect-policy" id="suspect-policy">
<p><label>Queue media seen beside confirmed matches that match nothing <select name="mode">${smodes(suspects.mode)}</select></label></p>
${num('perPage', suspects.perPage, 'At most this many suspects per page', 10_000)}
${num('perJob', suspects.perJob, 'At most this many suspects per crawl job', 10_000_000)}
${bool('twoAnalysts', suspects.twoAnalysts, 'A classification needs two analysts who agree')}
${num('previewsBeforeBreak', suspects.previewsBeforeBreak, 'Prompt a break after this many previews in a session (0: never)', 100_000)}
<p><label>Reason <input name="reason" size="40"></label> <button type="submit">Save suspect policy</button></p></form>`
  return layout('Review policy', html`<form class="panel" data-api="/api/policy" id="policy">
${bool('autoExact', policy.autoExact, 'Exact matches (sha256, md5, sha1) on verified lists notify at once')}
${num('autoPdqDistance', policy.autoPdqDistance, 'PDQ matches at most this distance on verified lists notify at once')}
${num('autoBlockhashDistance', policy.autoBlockhashDistance, 'blockhash matches at most this distance on verified lists notify at once')}
${num('minQuality', policy.minQuality, 'Perceptual matches on hashes of lower PDQ quality (0 to 100) always wait', 100)}
${bool('twoAnalystsNear', policy.twoAnalystsNear, 'Near matches need two analysts to confirm')}
<p><label>Reason <input name="reason" size="40"></label> <button type="submit">Save policy</button></p></form>
${suspectForm}<h2>Lists</h2><table id="lists"><tbody>${lrows}</tbody></table><p id="flash" role="status"></p>`, { analyst, csrfToken, script: true })
}

/** The well-being prompt: shown once the session has been shown the policy's number of previews (the script shows it too, when a preview says so). */
function wellbeingPrompt(wellbeing: { readonly previews: number; readonly breakSuggested: boolean }): SafeHtml {
  return html`<div id="wellbeing" class="wellbeing" role="alert"${!wellbeing.breakSuggested && html` hidden`}>
<strong>Time for a break.</strong> <span id="wellbeing-count">You have been shown ${wellbeing.previews} previews in this session.</span>
Step away from the screen for a while before you go on; talk to someone if something stays with you.
<button type="button" id="take-break">I have taken a break</button></div>`
}

export function suspectsPage(items: readonly SuspectItem[], policy: SuspectPolicy, wellbeing: { readonly previews: number; readonly breakSuggested: boolean }, analyst: Analyst, csrfToken: string): SafeHtml {
  const rows = items.map((i) => html`<tr class="item" data-media-id="${i.mediaId}" data-suspect-id="${i.suspectId}" tabindex="-1">
<td>${i.suspectId}</td><td>${i.mediaId}</td><td>${i.kind}</td><td><code>${i.url ?? '-'}</code></td><td><code>${i.pageUrl ?? '-'}</code></td>
<td>#${i.besideMediaId ?? '-'} (${i.besideLists.join(', ') || '-'})</td><td>${i.queuedAt.toISOString().replace('T', ' ').slice(0, 16)}</td><td>${i.votes.join(', ')}</td></tr>`)
  const table = items.length === 0
    ? html`<p id="empty">No suspect waits for classification.</p>`
    : html`<table id="queue"><thead><tr><th>suspect</th><th>media</th><th>kind</th><th>media URL</th><th>seen on page</th><th>beside (lists)</th><th>queued (UTC)</th><th>votes</th></tr></thead><tbody>${rows}</tbody></table>`
  const mode = policy.mode === 'off' ? 'off: no new suspects are queued' : policy.mode === 'on' ? 'on: beside any confirmed match' : 'per list: beside confirmed matches of the lists marked for it'
  const help = html`<p class="muted">Media that match nothing, seen on the same page as a confirmed match (policy ${mode}; at most ${policy.perPage} per page and ${policy.perJob} per job).
${policy.twoAnalysts ? 'Two analysts must give the same classification.' : 'One analyst\'s classification takes effect.'}
csam and harmful-abusive-material add the media's hashes to a local list and look for its copies among the media seen. Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous,
<kbd>1</kbd> csam, <kbd>2</kbd> harmful-abusive-material, <kbd>n</kbd> not, <kbd>p</kbd> show preview (logged). Media are not shown unless you ask.</p>`
  const panel = html`<section class="panel" id="decision-panel"><p id="flash" role="status" aria-live="polite"></p>
<p><label>Reason (recorded in the audit log)<br><input id="reason" size="50" maxlength="2000"></label></p>
<p><button type="button" data-classify="csam">csam (1)</button> <button type="button" data-classify="harmful-abusive-material">harmful-abusive-material (2)</button> <button type="button" data-classify="not">not (n)</button></p>
<p><button type="button" id="preview">Show preview (logged)</button> <label><input type="checkbox" id="unobscured"> without blur and greyscale</label></p>
<div id="preview-box"></div><div id="evidence" class="muted">Select an item.</div></section>`
  return layout('Suspects', html`${wellbeingPrompt(wellbeing)}${help}<div class="layout"><section>${table}</section>${panel}</div>`, { analyst, csrfToken, script: true })
}
