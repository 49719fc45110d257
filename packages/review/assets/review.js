// The review page's behaviour: keyboard review of the queue, evidence, decisions and the
// explicit, logged preview. Plain DOM, no framework; everything shown is set as text, never HTML.
'use strict'
;(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? ''
  const flash = (message, error = false) => {
    const el = document.getElementById('flash')
    if (!el) return
    el.textContent = message
    el.className = error ? 'flash error' : 'flash'
  }
  const api = async (path, options = {}) => {
    const response = await fetch(path, {
      method: options.method ?? 'GET', credentials: 'same-origin',
      headers: { accept: 'application/json', ...(options.body ? { 'content-type': 'application/json', 'x-csrf-token': csrf } : {}) },
      body: options.body ? JSON.stringify(options.body) : undefined,
    })
    if (options.raw) return response
    const value = await response.json().catch(() => ({}))
    if (!response.ok) throw new Error(value?.error?.message ?? `HTTP ${response.status}`)
    return value
  }
  const el = (tag, text, attrs = {}) => {
    const node = document.createElement(tag)
    if (text !== undefined && text !== null) node.textContent = String(text)
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
    return node
  }

  // Admin forms (policy, list modes) post JSON to the API.
  for (const form of document.querySelectorAll('form[data-api]')) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      const body = {}
      for (const input of form.querySelectorAll('input[name],select[name]')) body[input.name] = input.type === 'checkbox' ? input.checked : input.value
      try {
        const saved = await api(form.dataset.api, { method: 'POST', body })
        flash(['Saved.', ...(saved.warnings ?? []).map((w) => `Warning: ${w}.`)].join(' '))
      } catch (error) {
        flash(error.message, true)
      }
    })
  }

  const rows = () => [...document.querySelectorAll('#queue tr.item')]
  if (!document.getElementById('decision-panel')) return
  let index = -1
  const current = () => rows()[index]
  const evidence = document.getElementById('evidence')
  const previewBox = document.getElementById('preview-box')

  // Seconds as a player shows them (m:ss or h:mm:ss); consecutive seconds as ranges.
  const playerTime = (seconds) => {
    const s = Math.max(0, Math.floor(seconds))
    const h = Math.floor(s / 3600)
    const m = Math.floor((s % 3600) / 60)
    const ss = String(s % 60).padStart(2, '0')
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
  }
  const describeTimes = (times) => {
    const seconds = [...new Set(times.map((t) => Math.floor(t)))].sort((a, b) => a - b)
    const ranges = []
    for (const t of seconds) {
      const last = ranges[ranges.length - 1]
      if (last && t <= last[1] + 1) last[1] = t
      else ranges.push([t, t])
    }
    const shown = ranges.slice(0, 8).map(([a, b]) => (a === b ? playerTime(a) : `${playerTime(a)}-${playerTime(b)}`))
    return shown.join(', ') + (ranges.length > 8 ? ` and ${ranges.length - 8} more` : '')
  }

  const renderEvidence = (item) => {
    evidence.replaceChildren()
    evidence.className = ''
    const dl = el('dl')
    const add = (term, value) => {
      dl.append(el('dt', term))
      const dd = el('dd')
      if (value instanceof Node) dd.append(value)
      else dd.textContent = value ?? '-'
      dl.append(dd)
    }
    const length = item.kind === 'video' ? `video of ${item.durationSeconds == null ? '?' : playerTime(item.durationSeconds)}, ` : ''
    add('Media', `#${item.mediaId}, ${length}${item.format ?? '?'} ${item.width ?? '?'}x${item.height ?? '?'}, ${item.bytes} bytes, ${item.kind === 'video' ? 'median frame ' : ''}PDQ quality ${item.pdqQuality ?? '-'}`)
    add('Provider', item.provider ? `${item.provider.name} <${item.provider.abuseEmail}> (${item.provider.matchedBy})` : '(not known yet)')
    for (const [name, value] of Object.entries(item.hashes)) add(name, el('code', value ?? '-'))
    evidence.append(el('h2', `Media #${item.mediaId}`), dl)
    evidence.append(el('h3', 'Where it was found'))
    const fetches = el('ul')
    for (const f of item.fetches) {
      const li = el('li')
      li.append(el('code', f.url), el('span', ` (final ${f.finalUrl ?? '-'}, server ${f.serverIp ?? '-'}, HTTP ${f.status ?? '-'}, job ${f.jobId}, ${f.fetchedAt})`))
      for (const page of f.pages) li.append(el('div', `on page ${page}`, { class: 'muted' }))
      fetches.append(li)
    }
    evidence.append(fetches, el('h3', 'Matches'))
    const table = el('table', null, { id: 'matches' })
    const head = el('tr')
    const video = item.kind === 'video'
    for (const h of ['list', 'algorithm', 'distance', ...(video ? ['where in the video'] : []), 'entry', 'category', 'external id', 'status', 'why']) head.append(el('th', h))
    table.append(head)
    for (const m of item.matches) {
      const tr = el('tr')
      tr.append(el('td', `${m.list} v${m.listVersion} (${m.listMode})`), el('td', m.algorithm), el('td', m.distance))
      if (video) {
        const where = el('td', m.timestamps && m.timestamps.length > 0 ? describeTimes(m.timestamps) : '-')
        if (m.share != null) where.append(el('div', `${Math.round(m.share * 100)}% of its frames`, { class: 'muted' }))
        tr.append(where)
      }
      const entry = el('td')
      entry.append(el('code', m.entryHash))
      tr.append(entry, el('td', m.category ?? '-'), el('td', m.externalId ?? '-'), el('td', m.status + (m.escalatedAt ? ' (escalated)' : '')), el('td', m.reason ?? '-'))
      table.append(tr)
    }
    evidence.append(table)
    if (item.disputes && item.disputes.length > 0) {
      evidence.append(el('h3', 'Disputed by the provider'))
      const ul = el('ul', null, { id: 'disputes' })
      for (const d of item.disputes) {
        const li = el('li', `${d.provider ?? 'The provider'} disputes ${d.reference} (${d.mediaUrl}) on ${d.at}${d.escalated ? ', escalated' : ''}: `)
        li.append(el('q', d.message ?? '(no reason given)'))
        ul.append(li)
      }
      evidence.append(ul, el('p', 'Confirm upholds the notice; reject withdraws it.', { class: 'muted' }))
    }
    if (item.notices.length > 0) {
      evidence.append(el('h3', 'Notices'))
      const ul = el('ul')
      for (const n of item.notices) ul.append(el('li', `${n.reference} ${n.status} ${n.mediaUrl}`))
      evidence.append(ul)
    }
    evidence.append(el('h3', 'Earlier decisions'))
    const history = el('ul', null, { id: 'history' })
    for (const h of item.history) history.append(el('li', `${h.at} ${h.actor} ${h.action}${h.reason ? `: ${h.reason}` : ''}`))
    if (item.votes.length > 0) history.append(el('li', `confirmed so far by ${item.votes.map((v) => v.analyst).join(', ')}`))
    if (item.history.length === 0 && item.votes.length === 0) history.append(el('li', 'none'))
    evidence.append(history)
  }

  const select = async (i) => {
    const list = rows()
    if (list.length === 0) {
      index = -1
      evidence.textContent = 'Nothing left in this queue.'
      return
    }
    index = Math.max(0, Math.min(i, list.length - 1))
    list.forEach((row, n) => row.classList.toggle('selected', n === index))
    const row = list[index]
    row.scrollIntoView({ block: 'nearest' })
    row.setAttribute('aria-selected', 'true')
    previewBox.replaceChildren()
    const id = row.dataset.mediaId
    try {
      const item = await api(`/api/items/${id}`)
      if (current()?.dataset.mediaId === id) renderEvidence(item)
    } catch (error) {
      flash(error.message, true)
    }
  }

  const decideCurrent = async (decision) => {
    const row = current()
    if (!row) return
    const reason = document.getElementById('reason')
    try {
      const result = await api(`/api/items/${row.dataset.mediaId}/decision`, { method: 'POST', body: { decision, reason: reason.value } })
      const notices = result.notices.length > 0 ? `, notices ${result.notices.join(', ')}` : (result.withdrawn?.length ?? 0) > 0 ? `, withdrawn ${result.withdrawn.join(', ')}` : ''
      flash(`Media #${result.mediaId}: ${result.state}${notices}`)
      reason.value = ''
      if (result.state !== 'awaiting-second') {
        row.remove()
        await select(index)
      }
    } catch (error) {
      flash(error.message, true)
    }
  }

  // The suspect queue: an analyst's classification (two must agree when the policy says so).
  const classifyCurrent = async (classification) => {
    const row = current()
    if (!row) return
    const reason = document.getElementById('reason')
    try {
      const result = await api(`/api/suspects/${row.dataset.suspectId}/classification`, { method: 'POST', body: { classification, reason: reason.value } })
      const added = result.list ? `, ${result.entries} entries added to ${result.list}${result.huntStarted ? ', looking for its copies' : ''}` : ''
      flash(`Suspect #${result.suspectId}: ${result.state} (${result.classification})${added}`)
      reason.value = ''
      if (result.state === 'classified') {
        row.remove()
        await select(index)
      }
    } catch (error) {
      flash(error.message, true)
    }
  }

  // The well-being prompt: shown when a preview's answer says a break is suggested, until the analyst takes one.
  const wellbeing = document.getElementById('wellbeing')
  const suggestBreak = (previews) => {
    if (!wellbeing) return
    document.getElementById('wellbeing-count').textContent = `You have been shown ${previews} previews in this session.`
    wellbeing.hidden = false
  }
  document.getElementById('take-break')?.addEventListener('click', async () => {
    try {
      await api('/api/wellbeing/break', { method: 'POST', body: {} })
      wellbeing.hidden = true
    } catch (error) {
      flash(error.message, true)
    }
  })

  const preview = async () => {
    const row = current()
    if (!row) return
    const obscure = !document.getElementById('unobscured').checked
    const reason = document.getElementById('reason').value
    const response = await api(`/api/items/${row.dataset.mediaId}/preview`, { method: 'POST', body: { obscure, reason }, raw: true })
    if (!response.ok) {
      const value = await response.json().catch(() => ({}))
      return flash(value?.error?.message ?? `preview failed (HTTP ${response.status})`, true)
    }
    if (response.headers.get('x-arachnid-break') === 'suggested') suggestBreak(response.headers.get('x-arachnid-previews'))
    const url = URL.createObjectURL(await response.blob())
    const img = el('img', null, { alt: `preview of media ${row.dataset.mediaId}${obscure ? ' (blurred, greyscale)' : ''}`, id: 'preview-image' })
    img.src = url
    img.addEventListener('load', () => URL.revokeObjectURL(url))
    const frameAt = response.headers.get('x-arachnid-frame-at')
    previewBox.replaceChildren(img, el('p', (frameAt === null ? '' : `The frame at ${playerTime(Number(frameAt))} of the video, where the match lies. `) + (response.headers.get('x-arachnid-same-content') === 'true' ? 'The source still serves the matched content.' : 'The source now serves different content.'), { class: 'muted' }))
  }

  for (const button of document.querySelectorAll('button[data-decision]')) button.addEventListener('click', () => decideCurrent(button.dataset.decision))
  for (const button of document.querySelectorAll('button[data-classify]')) button.addEventListener('click', () => classifyCurrent(button.dataset.classify))
  const suspects = document.querySelector('button[data-classify]') !== null
  document.getElementById('preview').addEventListener('click', preview)
  for (const [n, row] of rows().entries()) row.addEventListener('click', () => select(n))
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return
    if (event.target instanceof HTMLElement && event.target.closest('input,textarea,select')) return
    const actions = suspects
      ? { j: () => select(index + 1), k: () => select(index - 1), 1: () => classifyCurrent('csam'), 2: () => classifyCurrent('harmful-abusive-material'), n: () => classifyCurrent('not'), p: () => preview() }
      : { j: () => select(index + 1), k: () => select(index - 1), c: () => decideCurrent('confirm'), r: () => decideCurrent('reject'), e: () => decideCurrent('escalate'), p: () => preview() }
    const action = actions[event.key]
    if (action) {
      event.preventDefault()
      void action()
    }
  })
  document.body.dataset.ready = 'true'
  void select(0)
})()
