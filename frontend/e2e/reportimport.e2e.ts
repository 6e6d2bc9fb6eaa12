// 导入月报 in the browser, against the real binary with its clock at 8 November 2022: a unit's
// editor downloads October's template from 本月填报, fills in two projects, sees the dry run
// (two reports to create, the untouched rows skipped), applies it and finds both reported with
// the cumulative derived; a file with a text in a number cell shows the row's error and writes
// nothing; a month closed between the dry run and the import is refused with its reason.
import { mkdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Browser, BrowserContext, Download, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Change, Meta, Report, ReportImportResult, ReportRow } from '../src/api/types'
import { formatMoney } from '../src/format'
import { ADMIN_PASSWORD, Api, launch, loginThroughPage, TestServer, watchConsole } from './harness'
import { readXlsx, writeXlsx, type Cell } from './xlsx'

// As in cycle.e2e.ts: test-results/ normally, docs/screenshots with UPDATE_SCREENSHOTS=1.
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, '../../docs/screenshots')
  : resolve(import.meta.dirname, '../test-results/screenshots')
const CLOCK = '2022-11-08T10:00:00+08:00'
const XLSX_MIME = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
const UNIT = { username: 'ri-unit', password: 'ri-unit-password-123' }
/** Chromium logs every 4xx answer by itself; the refusals are what some of these tests are about. */
const REFUSALS = [/status of 4\d\d/]

let server: TestServer
let browser: Browser
let admin: Api
let unit: Api
let dept = ''
/** The unit's construction projects of October, as the page lists them. */
let october: ReportRow[] = []
const contexts: BrowserContext[] = []

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', acceptDownloads: true })
  contexts.push(ctx)
  const page = await ctx.newPage()
  return { page, errors: watchConsole(page, REFUSALS) }
}

async function rev(): Promise<number> {
  return (await admin.ok<Meta>('GET', '/api/meta')).rev
}

/** The template as the page downloads it: its sheet name, rows and where its columns are. */
interface Template {
  name: string
  sheet: string
  rows: string[][]
  merges: string[]
  header: number
  col: (header: string) => number
}

async function downloadTemplate(page: Page): Promise<Template> {
  const [dl]: [Download, void] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=report-template]')])
  expect(await dl.failure()).toBeNull()
  const book = readXlsx(readFileSync(await dl.path()))
  const header = book.rows.findIndex((r) => r?.includes('项目编号'))
  expect(header, 'a header row with 项目编号').toBeGreaterThanOrEqual(0)
  const col = (h: string) => {
    const i = book.rows[header]!.indexOf(h)
    expect(i, `the template's column ${h}`).toBeGreaterThanOrEqual(0)
    return i
  }
  return { name: dl.suggestedFilename(), sheet: book.sheets[0]!, rows: book.rows, merges: book.merges, header, col }
}

/** The template with some cells filled in (by project id), written as an office's Excel would. */
function filled(tpl: Template, cells: Record<string, Record<string, Cell>>): Buffer {
  const idCol = tpl.col('项目编号')
  const rows: Cell[][] = tpl.rows.map((r, i) => {
    const out: Cell[] = [...r]
    const set = i > tpl.header ? cells[r[idCol] ?? ''] : undefined
    for (const [h, v] of Object.entries(set ?? {})) out[tpl.col(h)] = v
    return out
  })
  return writeXlsx({ name: tpl.sheet, rows, merges: tpl.merges, boldRows: [tpl.header + 1] })
}

async function openImport(page: Page, fileName: string, file: Buffer): Promise<void> {
  if ((await page.locator('[data-testid=report-import]').count()) === 0) await page.click('[data-testid=report-import-open]')
  await page.setInputFiles('[data-testid=report-import] [data-testid=file]', { name: fileName, mimeType: XLSX_MIME, buffer: file })
  await page.locator('[data-testid=report-import] [data-testid=dry-run]').waitFor()
}

const count = (page: Page, s: string) => page.locator(`[data-testid=report-import] [data-testid=tab-${s}]`).getAttribute('data-count')
const reportOf = (id: string) => unit.ok<Report>('GET', `/api/projects/${encodeURIComponent(id)}/reports/2022-10`)

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  browser = await launch()
  server = await TestServer.start(['--clock', CLOCK])
  admin = new Api(server.base)
  await admin.login('admin', ADMIN_PASSWORD)
  // The unit with the most construction projects of 2022 reports.
  const all = (await admin.ok<{ rows: ReportRow[] }>('GET', '/api/months/2022-10/reports')).rows
  const n = new Map<string, number>()
  for (const r of all) n.set(r.project.department, (n.get(r.project.department) ?? 0) + 1)
  dept = [...n.entries()].sort((a, b) => b[1] - a[1])[0]![0]
  october = all.filter((r) => r.project.department === dept)
  expect(october.length).toBeGreaterThanOrEqual(4)
  expect(october.every((r) => r.report === null)).toBe(true)
  await admin.ok('POST', '/api/users', { ...UNIT, displayName: '月报导入员', role: 'editor', departments: [dept] })
  unit = new Api(server.base)
  await unit.login(UNIT.username, UNIT.password)
})

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined)
  await browser?.close()
  await server?.stop()
})

describe('导入月报', () => {
  it("a unit's editor fills October's template for two projects, checks the dry run and imports it", async () => {
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, UNIT.username, UNIT.password, '/reports?month=2022-10')
    await page.locator('[data-testid=report-table] tbody tr[data-id]').first().waitFor()

    const tpl = await downloadTemplate(page)
    expect(tpl.name).toContain('月报模板')
    expect(tpl.sheet).toBe('2022年10月')
    const listed = tpl.rows.slice(tpl.header + 1).map((r) => r[tpl.col('项目编号')]).filter((id) => id)
    expect(listed.sort()).toEqual(october.map((r) => r.project.id).sort())

    const [a, b] = october
    const progressA = Math.min(100, a!.project.progress + 10)
    const progressB = Math.min(100, b!.project.progress + 5)
    const file = filled(tpl, {
      [a!.project.id]: { '本月完成投资（万元）': 120.5, '形象进度（%）': progressA, 进展情况: '主体结构封顶' },
      [b!.project.id]: { '本月完成投资（万元）': 80, '形象进度（%）': progressB },
    })
    const before = await rev()

    await openImport(page, '2022年10月月报.xlsx', file)
    expect(await count(page, 'create')).toBe('2')
    expect(await count(page, 'update')).toBe('0')
    expect(await count(page, 'error')).toBe('0')
    const sheet = page.locator('[data-testid=report-import] [data-testid=report-sheet]')
    expect(await sheet.getAttribute('data-month')).toBe('2022-10')
    const created = await sheet.locator('tr[data-status=create]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))
    expect(created.sort()).toEqual([a!.project.id, b!.project.id].sort())
    // The rows nobody filled in are skipped with a note, and nothing else is listed.
    expect(await sheet.locator('tbody tr[data-row]').count()).toBe(2)
    expect(await sheet.locator('[data-testid=notes]').textContent()).toContain(`${october.length - 2} 行只有项目`)
    const rowA = sheet.locator(`tr[data-id="${a!.project.id}"]`)
    expect(await rowA.locator('[data-field=monthYuan]').textContent()).toContain('120.5万元')
    expect(await rowA.locator('[data-field=progress]').textContent()).toContain(`${progressA}%`)
    expect(await rowA.locator('[data-field=progressText]').textContent()).toContain('主体结构封顶')
    expect(await rev()).toBe(before) // the dry run writes nothing
    // The page's top with the panel (a full page would put the sticky submit bar over the table).
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.screenshot({ path: resolve(SHOTS, 'reports-import-dry-run.png') })

    await page.click('[data-testid=report-import] [data-testid=apply]')
    await page.locator('[data-testid=report-import] [data-testid=applied]').waitFor()
    expect(await page.locator('[data-testid=applied]').textContent()).toContain('新建 2 条')
    // One change per report in the log, with the file's name; the year's first reports also
    // re-evaluate every project's warning in the same transaction, so the revision moves further.
    expect(await rev()).toBeGreaterThanOrEqual(before + 2)
    const log = (await admin.ok<{ changes: Change[] }>('GET', `/api/changes?since=${before}&limit=1000`)).changes.filter((c) => c.kind === 'report')
    expect(log.map((c) => c.projectId).sort()).toEqual([a!.project.id, b!.project.id].sort())
    expect(log.every((c) => c.comment === '导入 2022年10月月报.xlsx' && c.key === '2022-10')).toBe(true)

    for (const [r, wan, progress] of [[a!, 120.5, progressA], [b!, 80, progressB]] as const) {
      const rep = await reportOf(r.project.id)
      expect(rep.status).toBe('submitted')
      expect(rep.monthYuan).toBe(wan * 10_000)
      expect(rep.progress).toBe(progress)
      expect(rep.cumulativeYuan).toBe(rep.openingYuan + rep.monthYuan)
      expect(rep.reportedBy).toBe(UNIT.username)
      // The page has reloaded the month: 已报, the cumulative derived.
      const row = page.locator(`[data-testid=report-table] tr[data-id="${r.project.id}"]`)
      await row.locator('[data-testid=report-status]').filter({ hasText: '已报' }).waitFor()
      await expect.poll(() => row.locator('[data-field=cumulative]').textContent()).toBe(formatMoney(rep.cumulativeYuan))
    }
    expect(errors).toEqual([])
  })

  it('a text in a number cell shows as the row’s error and nothing is written', async () => {
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, UNIT.username, UNIT.password, '/reports?month=2022-10')
    await page.locator('[data-testid=report-table] tbody tr[data-id]').first().waitFor()
    const tpl = await downloadTemplate(page)
    const [, , c, d] = october
    const file = filled(tpl, {
      [c!.project.id]: { '本月完成投资（万元）': '一百', '形象进度（%）': 40 },
      [d!.project.id]: { '本月完成投资（万元）': 35 },
    })
    const before = await rev()

    await openImport(page, '十月补报.xlsx', file)
    expect(await count(page, 'error')).toBe('1')
    expect(await count(page, 'create')).toBe('1')
    // The two reported already come back unchanged from the pre-filled template.
    expect(await count(page, 'unchanged')).toBe('2')
    const bad = page.locator(`[data-testid=report-import] tr[data-status=error][data-id="${c!.project.id}"]`)
    const err = bad.locator('.imp-errors li')
    expect(await err.getAttribute('data-column')).toBe('本月完成投资（万元）')
    expect(await err.getAttribute('data-code')).toBe('invalid_value')
    expect(await err.textContent()).toContain('一百')
    expect(await page.locator('[data-testid=report-import] [data-testid=apply]').isDisabled()).toBe(true)
    expect(await page.locator('[data-testid=report-import] [data-testid=apply-blocked]').textContent()).toContain('1 处错误')
    await bad.scrollIntoViewIfNeeded()
    await page.locator('[data-testid=report-import]').screenshot({ path: resolve(SHOTS, 'reports-import-error.png') })

    // The server refuses the file whole, with the same answer.
    const form = new FormData()
    form.append('file', new Blob([new Uint8Array(file)], { type: XLSX_MIME }), '十月补报.xlsx')
    const res = await fetch(`${server.base}/api/imports/reports?dryRun=false`, {
      method: 'POST',
      headers: { Cookie: unit.cookie, Origin: server.base },
      body: form,
    })
    expect(res.status).toBe(409)
    const body = (await res.json()) as { error: { code: string }; result: ReportImportResult }
    expect(body.error.code).toBe('import_has_errors')
    expect(body.result.counts).toEqual({ create: 1, update: 0, unchanged: 2, error: 1 })

    expect(await rev()).toBe(before)
    for (const r of [c!, d!]) {
      expect((await unit.call('GET', `/api/projects/${encodeURIComponent(r.project.id)}/reports/2022-10`)).status).toBe(404)
    }
    expect(errors).toEqual([])
  })

  it('a month closed between the dry run and the import: nothing is imported and the page says why', async () => {
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, UNIT.username, UNIT.password, '/reports?month=2022-10')
    await page.locator('[data-testid=report-table] tbody tr[data-id]').first().waitFor()
    const tpl = await downloadTemplate(page)
    const d = october[3]!
    await openImport(page, '十月.xlsx', filled(tpl, { [d.project.id]: { '本月完成投资（万元）': 35 } }))
    expect(await count(page, 'create')).toBe('1')
    expect(await page.locator('[data-testid=report-import] [data-testid=apply]').isDisabled()).toBe(false)

    await admin.ok('POST', '/api/months/2022-10/close', undefined, { 'If-Match': '"0"' })
    const before = await rev()
    await page.click('[data-testid=report-import] [data-testid=apply]')
    const problem = page.locator('[data-testid=report-import] [data-testid=apply-problem]')
    await problem.waitFor()
    expect(await problem.textContent()).toContain('已关账')
    // The answer's re-read replaces the dry run: the sheet is refused as a closed month.
    expect(await page.locator('[data-testid=report-import] [data-testid=sheet-error]').getAttribute('data-code')).toBe('month_closed')
    expect(await page.locator('[data-testid=report-import] [data-testid=apply]').isDisabled()).toBe(true)
    expect(await rev()).toBe(before)
    expect((await unit.call('GET', `/api/projects/${encodeURIComponent(d.project.id)}/reports/2022-10`)).status).toBe(404)
    expect(errors).toEqual([])
  })
})
