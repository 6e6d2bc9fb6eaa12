// A small XLSX writer and reader for the browser tests, on node:zlib alone.
//
// Why not a package: exceljs 4.4 pulls in nine runtime dependencies (archiver, unzipper,
// jszip, …) for what the tests need, and the `xlsx` package on npm is SheetJS 0.18.5, no longer
// published there and with known advisories. The tests need only what an office's file has —
// shared strings, numbers, a date style on Excel serials, merged cells, a title row — and to
// read back the first sheet of an export. A zip of a few XML parts does that in ~200 lines.
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib'

// ---------------------------------------------------------------- zip

export interface ZipEntry {
  name: string
  data: Buffer
}

/** A zip archive of the entries, deflated, as Excel writes them. */
export function zip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8')
    const packed = deflateRawSync(e.data)
    const crc = crc32(e.data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4) // version needed
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt16LE(8, 8) // deflate
    local.writeUInt32LE(0, 10) // time, date
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(packed.length, 18)
    local.writeUInt32LE(e.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28)
    locals.push(local, name, packed)

    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4) // made by
    central.writeUInt16LE(20, 6) // needed
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt16LE(8, 10)
    central.writeUInt32LE(0, 12)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(packed.length, 20)
    central.writeUInt32LE(e.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    // extra, comment, disk, internal and external attributes: 0
    central.writeUInt32LE(offset, 42)
    centrals.push(central, name)
    offset += local.length + name.length + packed.length
  }
  const dir = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(dir.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, dir, end])
}

/** The entries of a zip archive (stored or deflated), by name. */
export function unzip(buf: Buffer): Map<string, Buffer> {
  let end = -1
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65_535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      end = i
      break
    }
  }
  if (end < 0) throw new Error('not a zip archive: no end of central directory')
  const count = buf.readUInt16LE(end + 10)
  let p = buf.readUInt32LE(end + 16)
  const out = new Map<string, Buffer>()
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('broken central directory')
    const method = buf.readUInt16LE(p + 10)
    const crc = buf.readUInt32LE(p + 16)
    const size = buf.readUInt32LE(p + 20)
    const nameLen = buf.readUInt16LE(p + 28)
    const extraLen = buf.readUInt16LE(p + 30)
    const commentLen = buf.readUInt16LE(p + 32)
    const local = buf.readUInt32LE(p + 42)
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8')
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    const raw = buf.subarray(dataAt, dataAt + size)
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw)
    if (crc32(data) !== crc) throw new Error(`${name}: CRC mismatch`)
    out.set(name, data)
    p += 46 + nameLen + extraLen + commentLen
  }
  return out
}

// ---------------------------------------------------------------- xlsx writing

/** A cell: text, a number, an Excel date serial shown as a date, or nothing. */
export type Cell = string | number | { serial: number } | null

export interface SheetSpec {
  name: string
  rows: Cell[][]
  /** Ranges such as "A2:A3". */
  merges?: string[]
  /** Rows (1-based) written bold, as header rows are. */
  boldRows?: number[]
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!)

/** "A" for 0, "AA" for 26. */
export function columnLetter(i: number): string {
  let s = ''
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s
  return s
}

/** Excel's serial number of a calendar date (the 1900 system). */
export function excelSerial(iso: string): number {
  return Math.round((Date.parse(`${iso}T00:00:00Z`) - Date.UTC(1899, 11, 30)) / 86_400_000)
}

/**
 * One workbook with one sheet, as Excel saves it: strings in the shared-string table, dates
 * as serial numbers with a date format (numFmtId 14), merged ranges, bold header rows.
 */
export function writeXlsx(sheet: SheetSpec): Buffer {
  const strings: string[] = []
  const index = new Map<string, number>()
  const bold = new Set(sheet.boldRows ?? [])
  const rowsXML = sheet.rows
    .map((row, r) => {
      const cells = row
        .map((v, c) => {
          if (v === null || v === '') return ''
          const ref = `${columnLetter(c)}${r + 1}`
          const style = bold.has(r + 1) ? ' s="2"' : ''
          if (typeof v === 'number') return `<c r="${ref}"${style}><v>${v}</v></c>`
          if (typeof v === 'object') return `<c r="${ref}" s="1"><v>${v.serial}</v></c>`
          let i = index.get(v)
          if (i === undefined) {
            i = strings.length
            strings.push(v)
            index.set(v, i)
          }
          return `<c r="${ref}" t="s"${style}><v>${i}</v></c>`
        })
        .join('')
      return `<row r="${r + 1}">${cells}</row>`
    })
    .join('')
  const merges = sheet.merges?.length ? `<mergeCells count="${sheet.merges.length}">${sheet.merges.map((m) => `<mergeCell ref="${m}"/>`).join('')}</mergeCells>` : ''
  const ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
  const rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
  const xml = (s: string) => Buffer.from(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n${s}`, 'utf8')
  return zip([
    {
      name: '[Content_Types].xml',
      data: xml(
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
          '<Default Extension="xml" ContentType="application/xml"/>' +
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' +
          '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>' +
          '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
          '</Types>',
      ),
    },
    {
      name: '_rels/.rels',
      data: xml(
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
          '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>' +
          '</Relationships>',
      ),
    },
    {
      name: 'xl/workbook.xml',
      data: xml(`<workbook ${ns} ${rel}><sheets><sheet name="${esc(sheet.name)}" sheetId="1" r:id="rId1"/></sheets></workbook>`),
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: xml(
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
          '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>' +
          '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>' +
          '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>' +
          '</Relationships>',
      ),
    },
    {
      name: 'xl/styles.xml',
      data: xml(
        `<styleSheet ${ns}>` +
          '<fonts count="2"><font><sz val="11"/><name val="等线"/></font><font><b/><sz val="11"/><name val="等线"/></font></fonts>' +
          '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>' +
          '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
          '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
          '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' +
          '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' +
          '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>' +
          '</styleSheet>',
      ),
    },
    {
      name: 'xl/sharedStrings.xml',
      data: xml(`<sst ${ns} count="${strings.length}" uniqueCount="${strings.length}">${strings.map((s) => `<si><t xml:space="preserve">${esc(s)}</t></si>`).join('')}</sst>`),
    },
    {
      name: 'xl/worksheets/sheet1.xml',
      data: xml(`<worksheet ${ns} ${rel}><sheetData>${rowsXML}</sheetData>${merges}</worksheet>`),
    },
  ])
}

// ---------------------------------------------------------------- xlsx reading

const unesc = (s: string) =>
  s.replace(/&(lt|gt|amp|quot|apos|#(\d+)|#x([0-9a-fA-F]+));/g, (_, name: string, dec?: string, hex?: string) => {
    if (dec) return String.fromCodePoint(Number(dec))
    if (hex) return String.fromCodePoint(parseInt(hex, 16))
    return ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[name]!
  })

/** The text of every <t> inside a fragment (rich text has several). */
function texts(fragment: string): string {
  return [...fragment.matchAll(/<t(?:\s[^>]*)?>([\s\S]*?)<\/t>/g)].map((m) => unesc(m[1]!)).join('')
}

function columnIndex(ref: string): number {
  const letters = /^[A-Z]+/.exec(ref)?.[0] ?? 'A'
  let n = 0
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 64)
  return n - 1
}

export interface ReadSheet {
  /** Sheet names in workbook order. */
  sheets: string[]
  /** The first sheet's cells as text (numbers as stored, e.g. "120005000" or "44652"). */
  rows: string[][]
  /** Merged ranges of the first sheet. */
  merges: string[]
  /** Raw XML of the first sheet, for checks on styles, frozen panes, filters and validations. */
  xml: string
}

/** Reads the first sheet of a workbook, enough for a test to check what an export holds. */
export function readXlsx(buf: Buffer): ReadSheet {
  const files = unzip(buf)
  const text = (name: string) => files.get(name)?.toString('utf8') ?? ''
  const workbook = text('xl/workbook.xml')
  const sheetTags = [...workbook.matchAll(/<sheet\s[^>]*\/?>/g)].map((m) => m[0])
  const sheets = sheetTags.map((tag) => unesc(/\sname="([^"]*)"/.exec(tag)?.[1] ?? ''))
  const firstId = /\sr:id="([^"]*)"/.exec(sheetTags[0] ?? '')?.[1]
  const rels = text('xl/_rels/workbook.xml.rels')
  const target = [...rels.matchAll(/<Relationship\s[^>]*\/?>/g)]
    .map((m) => m[0])
    .find((tag) => tag.includes(`Id="${firstId}"`))
  const href = /Target="([^"]*)"/.exec(target ?? '')?.[1] ?? 'worksheets/sheet1.xml'
  const path = href.startsWith('/') ? href.slice(1) : `xl/${href}`
  const shared = [...text('xl/sharedStrings.xml').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => texts(m[1]!))
  const xml = text(path)
  const rows: string[][] = []
  for (const rm of xml.matchAll(/<row\s([^>]*)>([\s\S]*?)<\/row>/g)) {
    const r = Number(/\br="(\d+)"/.exec(rm[1]!)?.[1] ?? rows.length + 1) - 1
    const row: string[] = []
    for (const cm of rm[2]!.matchAll(/<c\s([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const attrs = cm[1]!
      const body = cm[2] ?? ''
      const ref = /\br="([A-Z]+\d+)"/.exec(attrs)?.[1]
      const c = ref ? columnIndex(ref) : row.length
      const type = /\bt="([^"]*)"/.exec(attrs)?.[1] ?? 'n'
      const v = /<v>([\s\S]*?)<\/v>/.exec(body)?.[1]
      let value = ''
      if (type === 's') value = shared[Number(v)] ?? ''
      else if (type === 'inlineStr') value = texts(body)
      else value = v === undefined ? '' : unesc(v)
      row[c] = value
    }
    rows[r] = Array.from(row, (x) => x ?? '')
  }
  const merges = [...xml.matchAll(/<mergeCell\s+ref="([^"]+)"/g)].map((m) => m[1]!)
  return { sheets, rows: Array.from(rows, (x) => x ?? []), merges, xml }
}
