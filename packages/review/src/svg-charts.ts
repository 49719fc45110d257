/** Small server-rendered SVG charts: no script, no CDN, readable without JavaScript. */

function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

export interface ChartOptions {
  readonly width?: number
  readonly height?: number
  /** Shown as the chart's accessible name and title. */
  readonly title: string
  /** Label every nth category on the x axis (long series). Default 1. */
  readonly labelEvery?: number
  readonly unit?: string
}

/** A vertical bar chart of labelled counts. */
export function barChart(data: readonly { label: string; value: number }[], options: ChartOptions): string {
  const width = options.width ?? 640
  const height = options.height ?? 220
  const pad = { left: 40, right: 10, top: 24, bottom: 40 }
  const max = Math.max(1, ...data.map((d) => d.value))
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const step = data.length === 0 ? plotW : plotW / data.length
  const every = options.labelEvery ?? 1
  const bars = data.map((d, i) => {
    const h = (d.value / max) * plotH
    const x = pad.left + i * step
    const label = i % every === 0 ? `<text class="x" x="${(x + step / 2).toFixed(1)}" y="${height - pad.bottom + 14}" text-anchor="middle">${esc(d.label)}</text>` : ''
    return `<rect class="bar" x="${(x + step * 0.1).toFixed(1)}" y="${(pad.top + plotH - h).toFixed(1)}" width="${(step * 0.8).toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(d.label)}: ${d.value}${options.unit ? ` ${esc(options.unit)}` : ''}</title></rect>${label}`
  }).join('')
  return `<svg class="chart" role="img" aria-label="${esc(options.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`
    + `<title>${esc(options.title)}</title><text class="title" x="${pad.left}" y="16">${esc(options.title)}</text>`
    + `<line class="axis" x1="${pad.left}" y1="${pad.top + plotH}" x2="${width - pad.right}" y2="${pad.top + plotH}"/>`
    + `<text class="y" x="${pad.left - 6}" y="${pad.top + 4}" text-anchor="end">${max}</text><text class="y" x="${pad.left - 6}" y="${pad.top + plotH}" text-anchor="end">0</text>`
    + `${bars}</svg>`
}

/** Horizontal paired bars per row (e.g. median and 90th percentile per provider). */
export function pairedBarChart(rows: readonly { label: string; a: number | null; b: number | null }[], options: ChartOptions & { readonly aName: string; readonly bName: string }): string {
  const width = options.width ?? 640
  const rowH = 26
  const pad = { left: 180, right: 70, top: 30, bottom: 10 }
  const height = pad.top + pad.bottom + Math.max(1, rows.length) * rowH
  const max = Math.max(1e-9, ...rows.flatMap((r) => [r.a ?? 0, r.b ?? 0]))
  const plotW = width - pad.left - pad.right
  const fmt = (v: number | null) => (v === null ? '-' : `${v < 48 ? v.toFixed(1) : (v / 24).toFixed(1)} ${v < 48 ? 'h' : 'd'}`)
  const body = rows.map((r, i) => {
    const y = pad.top + i * rowH
    const wa = ((r.a ?? 0) / max) * plotW
    const wb = ((r.b ?? 0) / max) * plotW
    return `<text class="y" x="${pad.left - 6}" y="${y + 15}" text-anchor="end">${esc(r.label.slice(0, 28))}</text>`
      + `<rect class="bar b" x="${pad.left}" y="${y + 3}" width="${wb.toFixed(1)}" height="9"><title>${esc(r.label)} ${esc(options.bName)}: ${fmt(r.b)}</title></rect>`
      + `<rect class="bar" x="${pad.left}" y="${y + 12}" width="${wa.toFixed(1)}" height="9"><title>${esc(r.label)} ${esc(options.aName)}: ${fmt(r.a)}</title></rect>`
      + `<text class="x" x="${pad.left + Math.max(wa, wb) + 4}" y="${y + 15}">${fmt(r.a)} / ${fmt(r.b)}</text>`
  }).join('')
  return `<svg class="chart" role="img" aria-label="${esc(options.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`
    + `<title>${esc(options.title)}</title><text class="title" x="10" y="16">${esc(options.title)} (${esc(options.aName)} / ${esc(options.bName)})</text>${body}</svg>`
}
