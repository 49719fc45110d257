import { type SafeHtml, html } from '@arachnid/web/html'

/** Small server-rendered SVG charts: no script, no CDN, readable without JavaScript; written with the one html tag. */

export interface ChartOptions {
  readonly width?: number
  readonly height?: number
  /** Shown as the chart's accessible name and title. */
  readonly title: string
  /** Label every nth category on the x axis (long series). Default 1. */
  readonly labelEvery?: number
  readonly unit?: string
}

/**
 * A vertical bar chart of labelled counts.
 *
 * @example
 * html`<div>${barChart([{ label: 'Mon', value: 3 }], { title: 'Notices per day' })}</div>`
 */
export function barChart(data: readonly { label: string; value: number }[], options: ChartOptions): SafeHtml {
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
    const label = i % every === 0 && html`<text class="x" x="${(x + step / 2).toFixed(1)}" y="${height - pad.bottom + 14}" text-anchor="middle">${d.label}</text>`
    return html`<rect class="bar" x="${(x + step * 0.1).toFixed(1)}" y="${(pad.top + plotH - h).toFixed(1)}" width="${(step * 0.8).toFixed(1)}" height="${h.toFixed(1)}"><title>${d.label}: ${d.value}${options.unit ? ` ${options.unit}` : ''}</title></rect>${label}`
  })
  const heading = html`<title>${options.title}</title><text class="title" x="${pad.left}" y="16">${options.title}</text>`
  const axis = html`<line class="axis" x1="${pad.left}" y1="${pad.top + plotH}" x2="${width - pad.right}" y2="${pad.top + plotH}"/>`
  const scale = html`<text class="y" x="${pad.left - 6}" y="${pad.top + 4}" text-anchor="end">${max}</text><text class="y" x="${pad.left - 6}" y="${pad.top + plotH}" text-anchor="end">0</text>`
  return html`<svg class="chart" role="img" aria-label="${options.title}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${heading}${axis}${scale}${bars}</svg>`
}

/** Horizontal paired bars per row (e.g. median and 90th percentile per provider). */
export function pairedBarChart(rows: readonly { label: string; a: number | null; b: number | null }[], options: ChartOptions & { readonly aName: string; readonly bName: string }): SafeHtml {
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
    const label = html`<text class="y" x="${pad.left - 6}" y="${y + 15}" text-anchor="end">${r.label.slice(0, 28)}</text>`
    const b = html`<rect class="bar b" x="${pad.left}" y="${y + 3}" width="${wb.toFixed(1)}" height="9"><title>${r.label} ${options.bName}: ${fmt(r.b)}</title></rect>`
    const a = html`<rect class="bar" x="${pad.left}" y="${y + 12}" width="${wa.toFixed(1)}" height="9"><title>${r.label} ${options.aName}: ${fmt(r.a)}</title></rect>`
    return html`${label}${b}${a}<text class="x" x="${pad.left + Math.max(wa, wb) + 4}" y="${y + 15}">${fmt(r.a)} / ${fmt(r.b)}</text>`
  })
  const heading = html`<title>${options.title}</title><text class="title" x="10" y="16">${options.title} (${options.aName} / ${options.bName})</text>`
  return html`<svg class="chart" role="img" aria-label="${options.title}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${heading}${body}</svg>`
}
