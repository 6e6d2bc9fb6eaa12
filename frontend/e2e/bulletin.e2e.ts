// The printed bulletin (通报) against the real binary with its clock at 8 November 2022: a
// reader opens /bulletin?month=2022-10, the page shows the figures of GET
// /api/months/2022-10/bulletin (the XLSX bulletin's), and Chromium prints it to an A4
// landscape PDF of several pages whose every page after the first repeats the title and the
// table header and every page says "第 N 页 / 共 M 页" — in Chinese and in English. The PDF's
// text is read here with node:zlib alone (see pdfPages below).
import { mkdirSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { inflateSync } from 'node:zlib'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report, ReportRow } from '../src/api/types'
import type { Bulletin } from '../src/bulletin/types'
import { reasonSentence } from '../src/cycle/reasons'
import { ADMIN_PASSWORD, Api, launch, loginThroughPage, TestServer, watchConsole } from './harness'

// As in app.e2e.ts: test-results/ normally, docs/screenshots with UPDATE_SCREENSHOTS=1.
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, '../../docs/screenshots')
  : resolve(import.meta.dirname, '../test-results/screenshots')
const OUT = resolve(import.meta.dirname, '../test-results')
const CLOCK = '2022-11-08T10:00:00+08:00'
const READER_PASSWORD = 'reader-password-123'
const PROBLEM = '征地拆迁尚未完成，影响二期开工'

let server: TestServer
let browser: Browser
let admin: Api
let bulletin: Bulletin
let withProblem = ''
const contexts: BrowserContext[] = []

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  browser = await launch()
  server = await TestServer.start(['--clock', CLOCK])
  admin = new Api(server.base)
  await admin.login('admin', ADMIN_PASSWORD)
  // One project reports October with a problem: 存在问题 must reach the printed page.
  const rows = (await admin.ok<{ rows: ReportRow[] }>('GET', '/api/months/2022-10/reports')).rows
  const r = rows.find((x) => !x.report) ?? rows[0]!
  withProblem = r.project.id
  await admin.ok<Report>('PUT', `/api/projects/${encodeURIComponent(withProblem)}/reports/2022-10`,
    { monthYuan: 1_230_000, progress: Math.min(100, r.project.progress + 2), progressText: '主体施工', problemsText: PROBLEM },
    { 'If-Match': `"${r.report?.version ?? 0}"` })
  await admin.ok('POST', '/api/users', { username: 'reader1', password: READER_PASSWORD, displayName: '只读用户', role: 'viewer' })
  bulletin = await admin.ok<Bulletin>('GET', '/api/months/2022-10/bulletin')
})

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined)
  await browser?.close()
  await server?.stop()
})

/** A reader's page at the bulletin; A4 landscape is about 1123×794 CSS pixels. */
async function openBulletin(lang: 'zh-CN' | 'en'): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: lang })
  contexts.push(ctx)
  const page = await ctx.newPage()
  const errors = watchConsole(page)
  await loginThroughPage(page, server.base, 'reader1', READER_PASSWORD, `/bulletin?month=2022-10&lang=${lang}`)
  await page.locator('[data-testid=bulletin][data-ready=true]').waitFor()
  return { page, errors }
}

const squash = (s: string) => s.replace(/\s+/g, '')

// PDF_TEXT=test-results/bulletin-en.pdf prints what pdfPages reads from a saved PDF (after a failure).
if (process.env.PDF_TEXT) {
  it('the text of a saved PDF', async () => {
    const { readFileSync } = await import('node:fs')
    for (const [i, p] of pdfPages(readFileSync(process.env.PDF_TEXT!)).entries()) console.log(`--- page ${i + 1} ${p.size}\n${p.text.slice(0, 1500)}`)
  })
}

describe('the printed bulletin', () => {
  for (const lang of ['zh-CN', 'en'] as const) {
    const words =
      lang === 'en'
        ? { title: () => bulletin.title.en, heads: ['Name', 'Unit', 'Why', 'Problems'], page: (n: number, m: number) => `Page ${n} of ${m}`, print: 'Print', back: 'Back to months' }
        : { title: () => bulletin.title.zh, heads: ['项目名称', '责任单位', '预警原因', '存在问题'], page: (n: number, m: number) => `第 ${n} 页 / 共 ${m} 页`, print: '打印', back: '返回月度' }

    it(`${lang}: the page shows the bulletin's figures, with a print button that does not print`, async () => {
      const { page, errors } = await openBulletin(lang)
      expect(await page.locator('[data-testid=bulletin-title]').textContent()).toBe(words.title())
      const fig = (name: string) => page.locator(`[data-testid=bulletin-totals] [data-figure=${name}]`).textContent()
      expect(await fig('projects')).toBe(String(bulletin.totals.projects))
      expect(await fig('red')).toBe(String(bulletin.totals.red))
      expect(await fig('yellow')).toBe(String(bulletin.totals.yellow))
      expect(await fig('green')).toBe(String(bulletin.totals.green))
      expect(await fig('completed')).toBe((bulletin.totals.completedYuan / 10_000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }))
      expect(bulletin.totals.startRate).not.toBeNull()
      expect(await fig('startRate')).toBe(`${(Math.round(bulletin.totals.startRate! * 1000) / 10).toString()}%`)
      expect(await page.locator('[data-testid=bulletin-units] tbody tr[data-unit]').count()).toBe(bulletin.units.length)
      expect(await page.locator('[data-testid=bulletin-projects] tbody tr[data-id]').count()).toBe(bulletin.projects.length)
      const row = page.locator(`[data-testid=bulletin-projects] tr[data-id="${withProblem}"]`)
      expect(await row.textContent()).toContain(PROBLEM)
      // The printed date is the server's (its clock is at 8 November 2022).
      expect(await page.locator('[data-testid=bulletin-date]').textContent()).toContain('2022-11-08')

      const button = page.locator('[data-testid=bulletin-print]')
      expect(await button.textContent()).toBe(words.print)
      expect(await button.isVisible()).toBe(true)
      await page.emulateMedia({ media: 'print' })
      expect(await button.isVisible()).toBe(false)
      // Print layout: headers repeat, rows stay whole.
      const css = await page.evaluate(() => {
        const thead = document.querySelector('[data-testid=bulletin-projects] thead')!
        const tr = document.querySelector('[data-testid=bulletin-projects] tbody tr')!
        return { thead: getComputedStyle(thead).display, tr: getComputedStyle(tr).breakInside }
      })
      expect(css).toEqual({ thead: 'table-header-group', tr: 'avoid' })
      await page.setViewportSize({ width: 1123, height: 794 })
      await page.screenshot({ path: resolve(SHOTS, `bulletin-${lang === 'en' ? 'en' : 'zh'}.png`) })
      await page.emulateMedia({ media: 'screen' })
      expect(errors).toEqual([])
    })

    it(`${lang}: printed to A4 landscape, every page has its number, pages after the first the title and the header`, async () => {
      const { page, errors } = await openBulletin(lang)
      const pdf = await page.pdf({ format: 'A4', landscape: true, printBackground: true, displayHeaderFooter: false })
      writeFileSync(resolve(OUT, `bulletin-${lang}.pdf`), pdf)
      const pages = pdfPages(pdf)
      expect(pages.length).toBeGreaterThanOrEqual(2)
      const texts = pages.map((p) => squash(p.text))
      for (const [i, text] of texts.entries()) {
        expect(text, `page ${i + 1}`).toContain(squash(words.page(i + 1, pages.length)))
      }
      // A4 landscape: 297 × 210 mm, 842 × 595 points (Chromium rounds to whole CSS pixels).
      for (const p of pages) {
        expect(Math.abs(p.size[0] - 842) < 2 && Math.abs(p.size[1] - 595) < 2, `page size ${p.size}`).toBe(true)
      }
      expect(texts[0]).toContain(squash(words.title()))
      for (const [i, text] of texts.slice(1).entries()) {
        expect(text, `page ${i + 2}: the running title`).toContain(squash(words.title()))
      }
      // The project table's header on its first page and again on the next.
      const first = texts.findIndex((x) => words.heads.every((h) => x.includes(squash(h))) && x.includes(squash(bulletin.projects[0]!.name)))
      expect(first, 'the page where 项目明细 begins').toBeGreaterThanOrEqual(0)
      const next = texts[first + 1]
      expect(next, 'a page after the one where 项目明细 begins').toBeDefined()
      for (const h of words.heads) expect(next, `header "${h}" repeated on page ${first + 2}`).toContain(squash(h))
      // No row cut in two: each project's name, and the reasons of its warning, are whole on one page.
      for (const p of bulletin.projects) {
        const name = squash(p.name)
        expect(texts.filter((x) => x.includes(name)).length, `${p.name} whole on a page`).toBeGreaterThanOrEqual(1)
        const why = squash(p.warning.reasons.map((r) => reasonSentence(r, lang)).join(lang === 'en' ? '; ' : '；'))
        if (why) expect(texts.some((x) => x.includes(why)), `the reasons of ${p.name} whole on a page`).toBe(true)
      }
      expect(texts.some((x) => x.includes(squash(PROBLEM)))).toBe(true)
      // Nothing of the screen's toolbar.
      expect(texts.join('')).not.toContain(squash(words.back))
      expect(errors).toEqual([])
    })
  }
})

// ---- Reading the text of a PDF, Chromium's (Skia's) kind --------------------------------
// Objects `n 0 obj … endobj`, streams FlateDecode-compressed, fonts Type0 with a ToUnicode
// CMap, text drawn with Tj/TJ from hex or literal strings. Enough for Chromium's output and
// nothing more: anything it does not understand fails the test rather than passing it.

/** A font's character codes (one or two bytes) to text, from its ToUnicode CMap. */
interface FontMap {
  bytes: 1 | 2
  map: Map<number, string>
}

interface PdfPage {
  /** MediaBox width and height in points. */
  size: [number, number]
  /** The page's text: the strings of each BT…ET block, blocks on lines of their own. */
  text: string
}

function pdfPages(pdf: Buffer): PdfPage[] {
  const src = pdf.toString('latin1')
  const objects = new Map<number, { dict: string; stream: Buffer | null }>()
  const objRe = /(\d+) 0 obj\b/g
  for (let m = objRe.exec(src); m; m = objRe.exec(src)) {
    const start = m.index + m[0].length
    const end = src.indexOf('endobj', start)
    if (end < 0) break
    let body = src.slice(start, end)
    let stream: Buffer | null = null
    const s = body.indexOf('stream')
    if (s >= 0 && !/^\s*\[/.test(body)) {
      const dict = body.slice(0, s)
      let from = start + s + 'stream'.length
      if (src[from] === '\r') from++
      if (src[from] === '\n') from++
      const len = /\/Length (\d+)(?! 0 R)/.exec(dict)
      const to = len ? from + Number(len[1]) : src.lastIndexOf('endstream', end)
      let raw = pdf.subarray(from, to)
      if (/\/FlateDecode/.test(dict)) raw = inflateSync(raw)
      stream = raw
      body = dict
    }
    objects.set(Number(m[1]), { dict: body, stream })
    objRe.lastIndex = end
  }
  const obj = (n: number) => {
    const o = objects.get(n)
    if (!o) throw new Error(`PDF: no object ${n}`)
    return o
  }
  const ref = (dict: string, key: string): number | null => {
    const m = new RegExp(`/${key}\\s+(\\d+) 0 R`).exec(dict)
    return m ? Number(m[1]) : null
  }

  // Page order: the catalog's page tree, depth first.
  const catalog = [...objects.values()].find((o) => /\/Type\s*\/Catalog/.test(o.dict))
  if (!catalog) throw new Error('PDF: no catalog')
  const order: number[] = []
  const walk = (n: number) => {
    const d = obj(n).dict
    if (/\/Type\s*\/Pages/.test(d)) {
      const kids = /\/Kids\s*\[([^\]]*)\]/.exec(d)?.[1] ?? ''
      for (const k of kids.matchAll(/(\d+) 0 R/g)) walk(Number(k[1]))
    } else order.push(n)
  }
  walk(ref(catalog.dict, 'Pages')!)

  const cmaps = new Map<number, FontMap>()
  const cmapOf = (fontRef: number): FontMap => {
    const known = cmaps.get(fontRef)
    if (known) return known
    const c = new Map<number, string>()
    // Type0 fonts take two bytes a character, simple ones (Skia's Type3 among them) one.
    const font: FontMap = { bytes: /\/Subtype\s*\/Type0/.test(obj(fontRef).dict) ? 2 : 1, map: c }
    const tu = ref(obj(fontRef).dict, 'ToUnicode')
    if (tu === null) throw new Error(`PDF: font ${fontRef} has no ToUnicode`)
    const text = obj(tu).stream!.toString('latin1')
    const hex = (h: string) => parseInt(h, 16)
    const utf16 = (h: string) => {
      const units: number[] = []
      for (let i = 0; i < h.length; i += 4) units.push(hex(h.slice(i, i + 4)))
      return String.fromCharCode(...units)
    }
    for (const block of text.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
      for (const m of block[1]!.matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>/g)) c.set(hex(m[1]!), utf16(m[2]!))
    }
    for (const block of text.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
      for (const m of block[1]!.matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])/g)) {
        const lo = hex(m[1]!)
        const hi = hex(m[2]!)
        if (m[3]!.startsWith('[')) {
          const list = [...m[3]!.matchAll(/<([0-9A-Fa-f]+)>/g)].map((x) => utf16(x[1]!))
          for (let k = lo; k <= hi; k++) c.set(k, list[k - lo] ?? '')
        } else {
          const base = utf16(m[3]!.slice(1, -1))
          for (let k = lo; k <= hi; k++) c.set(k, base.slice(0, -1) + String.fromCharCode(base.charCodeAt(base.length - 1) + k - lo))
        }
      }
    }
    cmaps.set(fontRef, font)
    return font
  }

  return order.map((n) => {
    const d = obj(n).dict
    const box = /\/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]/.exec(d)
    if (!box) throw new Error(`PDF: page ${n} has no MediaBox`)
    const resRef = ref(d, 'Resources')
    const res = resRef !== null ? obj(resRef).dict : d
    const fontsDict = /\/Font\s*<<([^>]*)>>/.exec(res)?.[1] ?? (ref(res, 'Font') !== null ? obj(ref(res, 'Font')!).dict : '')
    const fonts = new Map<string, number>()
    for (const m of fontsDict.matchAll(/\/([^\s/]+)\s+(\d+) 0 R/g)) fonts.set(m[1]!, Number(m[2]))
    const contents = /\/Contents\s*\[([^\]]*)\]/.exec(d)?.[1] ?? /\/Contents\s+(\d+ 0 R)/.exec(d)?.[1] ?? ''
    const content = [...contents.matchAll(/(\d+) 0 R/g)].map((m) => obj(Number(m[1])).stream!.toString('latin1')).join('\n')
    return { size: [Number(box[3]) - Number(box[1]), Number(box[4]) - Number(box[2])] as [number, number], text: showText(content, (f) => cmapOf(fonts.get(f)!)) }
  })
}

/**
 * The text a content stream shows: a marked-content span's /ActualText where Skia gives one
 * (it does for CJK glyphs), else the strings of Tj/TJ decoded through the current font.
 */
function showText(content: string, fontOf: (font: string) => FontMap): string {
  const out: string[] = []
  let line = ''
  let font: FontMap | null = null
  const decode = (bytes: number[], at: number) => {
    if (!font) throw new Error(`PDF: text before a font at ${at}: ${content.slice(Math.max(0, at - 200), at + 50)}`)
    let s = ''
    if (font.bytes === 2) for (let i = 0; i + 1 < bytes.length; i += 2) s += font.map.get((bytes[i]! << 8) | bytes[i + 1]!) ?? '\uFFFD'
    else for (const b of bytes) s += font.map.get(b) ?? '\uFFFD'
    return s
  }
  // A text string: UTF-16BE after a byte-order mark, else PDFDocEncoding (Latin-1 for our purpose).
  const textString = (bytes: number[]) => {
    if (!(bytes[0] === 0xfe && bytes[1] === 0xff)) return String.fromCharCode(...bytes)
    let s = ''
    for (let i = 2; i + 1 < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!)
    return s
  }
  const hexBytes = (h: string) => {
    const clean = h.replace(/\s+/g, '')
    const bytes: number[] = []
    for (let i = 0; i < clean.length; i += 2) bytes.push(parseInt(clean.slice(i, i + 2).padEnd(2, '0'), 16))
    return bytes
  }
  const literalBytes = (l: string) => {
    const bytes: number[] = []
    for (let i = 0; i < l.length; i++) {
      const ch = l[i]!
      if (ch !== '\\') {
        bytes.push(ch.charCodeAt(0))
        continue
      }
      const next = l[++i]!
      if (/[0-7]/.test(next)) {
        let oct = next
        while (oct.length < 3 && /[0-7]/.test(l[i + 1] ?? '')) oct += l[++i]
        bytes.push(parseInt(oct, 8))
      } else bytes.push(({ n: 10, r: 13, t: 9, b: 8, f: 12 } as Record<string, number>)[next] ?? next.charCodeAt(0))
    }
    return bytes
  }
  interface Str {
    bytes: number[]
    at: number
  }
  // Tokens: dictionary brackets, hex strings, literal strings (with escapes), names, array
  // brackets, anything else (numbers and operators).
  const tok = /(<<|>>)|<([0-9A-Fa-f\s]*)>|\(((?:\\[\s\S]|[^\\)])*)\)|\/([^\s/<>[\]()]+)|(\[|\])|([^\s/<>[\]()]+)/g
  let strings: Str[] = [] // the string operands of the next operator (a TJ array's all)
  let dictDepth = 0
  let dictKey = ''
  let actualText: string | null = null // of the dictionary being read
  const spans: (string | null)[] = [] // open marked-content spans: their ActualText or null
  for (let m = tok.exec(content); m; m = tok.exec(content)) {
    const str = m[2] !== undefined ? hexBytes(m[2]) : m[3] !== undefined ? literalBytes(m[3]) : null
    if (m[1] === '<<') {
      if (dictDepth++ === 0) actualText = null
    } else if (m[1] === '>>') dictDepth--
    else if (dictDepth > 0) {
      if (str && dictKey === 'ActualText') actualText = textString(str)
      dictKey = m[4] ?? ''
    } else if (str) strings.push({ bytes: str, at: m.index })
    else if (m[6] !== undefined) {
      const op = m[6]
      if (op === 'Tf') {
        const name = content.slice(0, m.index).match(/\/([^\s/<>[\]()]+)\s+[-+\d.]+\s*$/)?.[1]
        if (!name) throw new Error(`PDF: Tf without a font name at ${m.index}`)
        font = fontOf(name)
      } else if (op === 'Tj' || op === 'TJ' || op === "'" || op === '"') {
        if (!spans.some((x) => x !== null)) line += strings.map((x) => decode(x.bytes, x.at)).join('')
      } else if (op === 'BDC') {
        spans.push(actualText)
        if (actualText !== null) line += actualText
        actualText = null
      } else if (op === 'BMC') spans.push(null)
      else if (op === 'EMC') spans.pop()
      else if (op === 'ET') {
        out.push(line)
        line = ''
      }
      if (!/^[-+\d.]+$/.test(op)) strings = []
    }
  }
  if (line) out.push(line)
  return out.join('\n')
}
