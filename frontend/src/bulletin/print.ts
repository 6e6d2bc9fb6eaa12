// The printed page: A4 landscape, the bulletin's title at the top of every page but the
// first, "第 N 页 / 共 M 页" at the bottom (CSS @page margin boxes, Chromium 131 and later).
// Built at run time because the texts are the month's and the language's; the view adds it
// to <head> while it is shown and removes it after.

/** A CSS string literal. */
export function cssString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\A ')}"`
}

/**
 * "第 {page} 页 / 共 {pages} 页" as a `content` value: the text around the placeholders as
 * strings, the placeholders as counter(page) and counter(pages).
 */
export function pageCounterContent(message: string): string {
  const parts = message.split(/(\{page\}|\{pages\})/).filter((p) => p !== '')
  return parts.map((p) => (p === '{page}' ? 'counter(page)' : p === '{pages}' ? 'counter(pages)' : cssString(p))).join(' ')
}

export function pageStyle(title: string, pageOf: string): string {
  return `@page {
  size: A4 landscape;
  margin: 13mm 10mm 12mm 10mm;
  @top-center { content: ${cssString(title)}; font-size: 8pt; color: #6b7280; }
  @bottom-center { content: ${pageCounterContent(pageOf)}; font-size: 8pt; color: #374151; }
}
@page :first {
  @top-center { content: none; }
}
@media print {
  html, body { background: #fff !important; }
}`
}
