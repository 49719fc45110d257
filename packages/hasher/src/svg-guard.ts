import { InputRejectedError } from './hash-error.js'

/**
 * Whether the bytes are text starting with markup, which is how SVG arrives (sharp would otherwise
 * hand them to librsvg). Only such inputs need the SVG checks.
 */
export function looksLikeMarkup(bytes: Uint8Array): boolean {
  if (isUtf16Bom(bytes)) return true
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  while (i < bytes.length && i < 4096 && isXmlSpace(bytes[i] ?? 0)) i++
  return bytes[i] === 0x3c // '<'
}

/**
 * Refuses SVG documents that could make the XML parser do unbounded work: entity declarations
 * (the "billion laughs" bomb and its relatives) and DOCTYPEs with an internal subset, and any
 * document over `maxSvgBytes`. A DOCTYPE with only an external identifier is allowed (common in
 * exported SVG); libxml2 does not load external DTDs unless asked to, and a test checks that no
 * request is made.
 */
export function assertSafeSvg(bytes: Uint8Array, maxSvgBytes: number): void {
  if (bytes.length > maxSvgBytes) {
    throw new InputRejectedError('UNSAFE_SVG', `SVG of ${bytes.length} bytes exceeds the ${maxSvgBytes}-byte SVG limit`)
  }
  if (isUtf16Bom(bytes)) throw new InputRejectedError('UNSAFE_SVG', 'UTF-16 SVG is not accepted (entity checks need UTF-8)')
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
  if (/<!ENTITY/i.test(text)) throw new InputRejectedError('UNSAFE_SVG', 'SVG declares XML entities (possible entity expansion bomb)')
  if (/<!DOCTYPE[^>[]*\[/i.test(text)) throw new InputRejectedError('UNSAFE_SVG', 'SVG DOCTYPE has an internal subset')
}

function isUtf16Bom(bytes: Uint8Array): boolean {
  return (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)
}

function isXmlSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d
}
