// Browser tests of the register in Excel: 新建项目 through the form, the exports as downloads,
// and an office's own XLSX imported through the 导入 page with a dry run and an apply, against
// the real server binary.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Browser, BrowserContext, Download, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Change, CreatedToken, ImportResult, Project } from '../src/api/types'
import { ADMIN_PASSWORD, Api, launch, sleep, TestServer, watchConsole, loginThroughPage } from './harness'
import { columnLetter, excelSerial, readXlsx, unzip, writeXlsx, zip, type Cell } from './xlsx'

// Screenshots go where app.e2e.ts puts its own: test-results/ after a run, docs/screenshots
// with UPDATE_SCREENSHOTS=1.
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, '../../docs/screenshots')
  : resolve(import.meta.dirname, '../test-results/screenshots')
const XLSX_MIME = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04])
const EDITOR = { username: 'imp-ed', password: 'imp-ed-password-123' }
/** Chromium logs every 4xx answer by itself; the refusals are what some of these tests are about. */
const REFUSALS = [/Failed to load resource: the server responded with a status of (404|409|413|422)/]

let server: TestServer
let browser: Browser
let admin: Api
let wallToken: string
const contexts: BrowserContext[] = []

async function newPage(opts: { width?: number; height?: number; allowed?: RegExp[] } = {}) {
  const ctx = await browser.newContext({ viewport: { width: opts.width ?? 1440, height: opts.height ?? 900 }, locale: 'zh-CN', acceptDownloads: true })
  contexts.push(ctx)
  const page = await ctx.newPage()
  return { page, ctx, errors: watchConsole(page, opts.allowed) }
}

const loginUI = (page: Page, username: string, password: string, next = '/'): Promise<void> =>
  loginThroughPage(page, server.base, username, password, next)

async function projects(): Promise<Project[]> {
  return (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects
}
async function project(id: string): Promise<Project> {
  return admin.ok<Project>('GET', `/api/projects/${encodeURIComponent(id)}`)
}

/** Clicks a download link and returns the file's bytes and name. */
async function download(page: Page, selector: string): Promise<{ bytes: Buffer; name: string }> {
  const [dl]: [Download, void] = await Promise.all([page.waitForEvent('download'), page.click(selector)])
  const path = await dl.path()
  expect(await dl.failure()).toBeNull()
  return { bytes: readFileSync(path), name: dl.suggestedFilename() }
}

function expectXlsx(bytes: Buffer): void {
  expect(bytes.subarray(0, 4)).toEqual(ZIP_MAGIC)
  const parts = unzip(bytes)
  expect(parts.has('xl/workbook.xml')).toBe(true)
}

/** The data rows under the row holding `header`, as objects keyed by that row's cells. */
function table(rows: string[][], header: string): Record<string, string>[] {
  const at = rows.findIndex((r) => r?.includes(header))
  expect(at, `a header row with ${header}`).toBeGreaterThanOrEqual(0)
  const head = rows[at]!
  return rows
    .slice(at + 1)
    .filter((r) => r && r.some((c) => c !== ''))
    .map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ''])))
}

/** Sends only the headers of an upload announcing `length` bytes and returns the answer. */
function announce(url: string, length: number, cookie: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const u = new URL(url)
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST',
        headers: { 'Content-Type': 'multipart/form-data; boundary=x', 'Content-Length': String(length), Cookie: cookie, Origin: u.origin } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => {
          req.destroy()
          ok({ status: res.statusCode ?? 0, body })
        })
      },
    )
    req.on('error', fail)
    req.setTimeout(10_000, () => req.destroy(new Error('no answer to the announced length within 10 s')))
    req.flushHeaders()
  })
}

const wan = (yuan: number) => yuan / 10_000
const serial = (date: string | null): Cell => (date ? { serial: excelSerial(date) } : null)

async function openWall() {
  const w = await newPage({ width: 1920, height: 1080 })
  // Keep every frame of the live feed (the page's own code is not touched).
  await w.ctx.addInitScript(() => {
    const g = window as unknown as { WebSocket: typeof WebSocket; __frames: string[] }
    g.__frames = []
    const Native = g.WebSocket
    g.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols)
        this.addEventListener('message', (ev: MessageEvent) => {
          if (typeof ev.data === 'string') g.__frames.push(ev.data)
        })
      }
    }
  })
  await w.page.goto(`${server.base}/wall?token=${encodeURIComponent(wallToken)}&rotate=0`)
  await w.page.locator('[data-testid=wall-conn].conn-open').waitFor()
  await w.page.locator('[data-testid=stage-counts]').waitFor()
  return w
}
async function stageCount(page: Page, stage: string): Promise<number> {
  return Number(await page.locator(`[data-testid=stage-counts] [data-stage=${stage}] .sc-count`).textContent())
}
async function frames(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __frames: string[] }).__frames.slice())
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  browser = await launch()
  server = await TestServer.start()
  admin = new Api(server.base)
  await admin.login('admin', ADMIN_PASSWORD)
  wallToken = (await admin.ok<CreatedToken>('POST', '/api/tokens', { kind: 'display', name: 'import-e2e' })).token
  await admin.ok('POST', '/api/users', { ...EDITOR, displayName: '项目办编辑', role: 'editor', departments: [] })
})

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined)
  await browser?.close()
  await server?.stop()
})

describe('新建项目', () => {
  it('creates a project from the register; a value the server refuses shows at its field', async () => {
    const { page, errors } = await newPage({ allowed: REFUSALS })
    const department = (await projects()).find((p) => p.department === '经济发展局')?.department ?? '经济发展局'
    await loginUI(page, EDITOR.username, EDITOR.password, '/projects')
    await page.click('[data-testid=new-project]')
    await page.waitForURL((u) => u.pathname === '/projects/new')
    const form = page.locator('[data-testid=new-project-form]')
    await form.waitFor()

    // Stages follow the category, with their Chinese labels.
    const stageLabels = () => page.locator('#f-stage option').allTextContents()
    expect(await stageLabels()).toEqual(['前期', '在建', '竣工', '投产'])
    await page.selectOption('#f-category', 'attraction')
    expect(await stageLabels()).toEqual(['洽谈', '签约', '落位'])
    expect(await page.locator('#f-stage').inputValue()).toBe('negotiating')
    await page.selectOption('#f-category', 'planned')
    expect(await page.locator('#f-stage').inputValue()).toBe('preparing')
    expect(await page.locator('#f-year').inputValue()).toBe('2022')

    // Required fields are named before anything is sent.
    await page.click('[data-testid=create]')
    expect(await page.locator('#e-name').textContent()).toBe('必填')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('f-name')

    const name = '净月数据中心二期（表单新建）'
    await page.fill('#f-name', name)
    await page.selectOption('#f-stage', 'under_construction')
    await page.fill('#f-department', department)
    await page.fill('#f-sector', '数字经济')
    await page.fill('#f-leader', '管委会副主任（分管工业）')
    await page.fill('#f-investmentYuan', '12,000.5')
    await page.fill('#f-annualPlanYuan', '3000')
    // More completed than the total: a domain rule, refused with its Chinese message at its field.
    await page.fill('#f-investmentCompletedYuan', '20000')
    await page.fill('#f-progress', '35')
    await page.fill('#f-plannedStart', '2022-03-01')
    await page.fill('#f-startedAt', '2022-04-10')
    await page.fill('#f-note', '表单新建的项目')
    await page.click('[data-testid=create]')
    const ruleError = page.locator('#e-investmentCompletedYuan')
    await ruleError.waitFor()
    expect(await ruleError.textContent()).toBe('年度完成投资（20000万元）超过了总投资（12000.5万元）')
    expect(await page.locator('#f-investmentCompletedYuan').getAttribute('aria-invalid')).toBe('true')
    await page.fill('#f-investmentCompletedYuan', '1200.25')
    // Planned completion before the planned start: the server refuses it and names the field.
    await page.fill('#f-plannedCompletion', '2022-01-31')
    await page.click('[data-testid=create]')
    expect(await page.locator('#e-investmentCompletedYuan').count()).toBe(0)
    const fieldError = page.locator('#e-plannedCompletion')
    await fieldError.waitFor()
    expect((await fieldError.textContent())?.trim()).not.toBe('')
    expect(await page.locator('#f-plannedCompletion').getAttribute('aria-invalid')).toBe('true')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('f-plannedCompletion')
    expect(await page.locator('[data-testid=form-error]').textContent()).toBe('请更正标出的字段。')
    expect(new URL(page.url()).pathname).toBe('/projects/new')
    console.log(`new project: the 422 shown at 计划竣工: ${await fieldError.textContent()}`)
    await page.screenshot({ path: resolve(SHOTS, 'new-project.png'), fullPage: true })
    const noScroll = await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)
    expect(noScroll).toBe(true)

    await page.fill('#f-plannedCompletion', '2023-10-31')
    await page.click('[data-testid=create]')
    await page.waitForURL((u) => u.pathname.startsWith('/projects/') && u.pathname !== '/projects/new')
    await expect.poll(() => page.locator('[data-testid=project-name]').textContent()).toBe(name)
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!)
    const p = await project(id)
    expect(p).toMatchObject({
      name,
      category: 'planned',
      year: 2022,
      stage: 'under_construction',
      department,
      sector: '数字经济',
      investmentYuan: 120_005_000,
      annualPlanYuan: 30_000_000,
      investmentCompletedYuan: 12_002_500,
      progress: 35,
      plannedStart: '2022-03-01',
      startedAt: '2022-04-10',
      plannedCompletion: '2023-10-31',
      note: '表单新建的项目',
      updatedBy: EDITOR.username,
    })
    // Errors: the 422 and nothing else.
    expect(errors.filter((e) => !/status of 422/.test(e))).toEqual([])
  })
})

describe('导出', () => {
  it('downloads the register as XLSX and CSV with the current filters, and a project history', async () => {
    const { page, errors } = await newPage()
    await loginUI(page, EDITOR.username, EDITOR.password, '/projects')
    await page.locator('[data-testid=projects-table] tbody tr[data-id]').first().waitFor()
    await page.selectOption('[data-testid=filter-stage]', 'signed')
    const signed = (await projects()).filter((p) => p.stage === 'signed')
    await expect.poll(() => page.locator('[data-testid=projects-table] tbody tr[data-id]').count()).toBe(signed.length)

    const xlsx = await download(page, '[data-testid=export-projects-xlsx]')
    expect(xlsx.name).toMatch(/\.xlsx$/)
    expectXlsx(xlsx.bytes)
    const sheet = readXlsx(xlsx.bytes)
    const rows = table(sheet.rows, '项目名称')
    expect(rows.map((r) => r['项目名称']).sort()).toEqual(signed.map((p) => p.name).sort())
    // Numbers as numbers: 总投资 in 万元, no text cells in that column.
    const sample = signed[0]!
    const row = rows.find((r) => r['项目名称'] === sample.name)!
    const investmentHeader = Object.keys(row).find((h) => h.startsWith('总投资'))!
    expect(Number(row[investmentHeader])).toBeCloseTo(wan(sample.investmentYuan), 2)
    const head = sheet.rows.find((r) => r?.includes('项目名称'))!
    const letter = columnLetter(head.indexOf(investmentHeader))
    const cells = [...sheet.xml.matchAll(new RegExp(`<c r="${letter}\\d+"[^>]*>`, 'g'))].map((m) => m[0]).slice(1)
    expect(cells.length).toBe(signed.length)
    expect(cells.filter((c) => / t="/.test(c))).toEqual([]) // no text cells: numbers as numbers
    // What makes it pleasant in Excel and WPS: a frozen header, an autofilter, drop-downs.
    expect(sheet.xml).toMatch(/<pane [^>]*state="frozen"/)
    expect(sheet.xml).toContain('<autoFilter')
    expect((sheet.xml.match(/<dataValidation /g) ?? []).length).toBeGreaterThanOrEqual(3)
    console.log(`export: ${xlsx.name}, ${xlsx.bytes.length} bytes, ${rows.length} projects, sheets ${sheet.sheets.join(' / ')}`)

    const csv = await download(page, '[data-testid=export-projects-csv]')
    expect(csv.name).toMatch(/\.csv$/)
    expect(csv.bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]))
    const csvText = csv.bytes.toString('utf8')
    expect(csvText).toContain('项目名称')
    for (const p of signed) expect(csvText).toContain(p.name)
    expect(csvText).not.toContain((await projects()).find((p) => p.stage === 'negotiating')!.name)

    // A project's history, from its page.
    const target = signed[0]!
    await page.goto(`${server.base}/projects/${encodeURIComponent(target.id)}`)
    await page.locator('[data-testid=export-changes-xlsx]').waitFor()
    const history = await download(page, '[data-testid=export-changes-xlsx]')
    expectXlsx(history.bytes)
    const changes = (await admin.ok<{ changes: Change[] }>('GET', `/api/projects/${encodeURIComponent(target.id)}/changes`)).changes
    const historyText = readXlsx(history.bytes).rows.flat().join('\n')
    if (changes.length > 0) expect(historyText).toContain(target.name)
    expect(errors).toEqual([])
  })
})

describe('导入', () => {
  /** An office's own sheet: a title row, a two-row header merged over 投资情况（万元）, text numbers, serial dates. */
  function officeSheet(body: Cell[][]): Buffer {
    const head1: Cell[] = ['序号', '项目名称', '项目类别', '所属行业', '责任单位', '包保领导', '推进阶段', '投资情况（万元）', null, null, '形象进度（%）', '计划开工时间', '实际开工时间', '备注', '联系电话']
    const head2: Cell[] = [null, null, null, null, null, null, null, '总投资', '年度计划', '年度完成', null, null, null, null, null]
    return writeXlsx({
      name: '2022年重点项目',
      rows: [['长春净月高新区2022年重点项目推进情况表（项目办）'], head1, head2, ...body],
      merges: ['A1:O1', 'H2:J2', ...['A', 'B', 'C', 'D', 'E', 'F', 'G', 'K', 'L', 'M', 'N', 'O'].map((c) => `${c}2:${c}3`)],
      boldRows: [1, 2, 3],
    })
  }
  function sheetRow(n: number, p: Project, over: Partial<Record<'completedWan' | 'progress', Cell>> = {}): Cell[] {
    const category = { planned: '计划内重点', unplanned: '计划外新开工', attraction: '招商引资' }[p.category]
    const stage = { negotiating: '洽谈', signed: '签约', landed: '落位', preparing: '前期', under_construction: '在建', completed: '竣工', operating: '投产' }[p.stage]
    return [
      n,
      p.name,
      category,
      p.sector,
      p.department,
      p.leader,
      stage,
      wan(p.investmentYuan),
      wan(p.annualPlanYuan).toLocaleString('en-US', { maximumFractionDigits: 4 }),
      over.completedWan ?? wan(p.investmentCompletedYuan),
      over.progress ?? p.progress,
      serial(p.plannedStart),
      serial(p.startedAt),
      p.note,
      '0431-8888' + String(n).padStart(4, '0'),
    ]
  }

  it('imports an office XLSX: the dry run as a table, errors in red, skip them, apply; the wall updates once', async () => {
    const all = await projects()
    const unchanged = all.find((p) => p.id === 'JY22-P004')!
    const updated = all.find((p) => p.id === 'JY22-P005')!
    const newName = '净月智能制造产业园（导入）'
    const file = officeSheet([
      sheetRow(1, unchanged),
      sheetRow(2, updated, { completedWan: '70,000', progress: 45 }),
      [3, newName, '计划内重点', '高端装备', '经济发展局', '管委会副主任（分管工业）', '在建', '12,000.5', '3,000', '1200.25', 35, serial('2022-03-01'), serial('2022-04-10'), '导入的新项目', '0431-88880003'],
      [4, '负投资测试项目', '计划内重点', '高端装备', '经济发展局', '', '前期', '-5', '0', '0', 0, serial('2022-06-01'), null, '', ''],
    ])
    const fileName = '净月高新区2022年重点项目推进表.xlsx'

    const wall = await openWall()
    const constructionBefore = await stageCount(wall.page, 'under_construction')

    const { page, errors } = await newPage({ allowed: REFUSALS })
    await loginUI(page, EDITOR.username, EDITOR.password, '/')
    await page.click('[data-testid=nav-import]')
    await page.waitForURL((u) => u.pathname === '/import')

    // The template link gives the import template.
    const template = await download(page, '[data-testid=template]')
    expectXlsx(template.bytes)
    expect(template.name).toMatch(/\.xlsx$/)
    expect(readXlsx(template.bytes).rows.flat()).toContain('项目名称')

    await page.selectOption('[data-testid=import-year]', '2022')
    await page.setInputFiles('[data-testid=file]', { name: fileName, mimeType: XLSX_MIME, buffer: file })
    const dry = page.locator('[data-testid=dry-run]')
    await dry.waitFor()
    const count = (s: string) => page.locator(`[data-testid=tab-${s}]`).getAttribute('data-count')
    expect({ create: await count('create'), update: await count('update'), unchanged: await count('unchanged'), error: await count('error') }).toEqual({
      create: '1',
      update: '1',
      unchanged: '1',
      error: '1',
    })
    // It opens on the errors: the row as the office numbers it, the column as it is headed.
    const table = page.locator('[data-testid=import-table]')
    expect(await table.getAttribute('data-filter')).toBe('error')
    const errorRow = table.locator('tbody tr[data-status=error]')
    expect(await errorRow.count()).toBe(1)
    const errorRowNo = await errorRow.getAttribute('data-row')
    expect(errorRowNo).toBe('7')
    const errorText = await errorRow.locator('.imp-errors').textContent()
    expect(errorText).toContain('第 7 行')
    expect(errorText).toContain('总投资')
    expect(await errorRow.locator('.imp-errors li').evaluate((el) => getComputedStyle(el).color)).toBe('rgb(185, 28, 28)')
    // Apply waits for a decision about the errors.
    expect(await page.locator('[data-testid=apply]').isDisabled()).toBe(true)
    expect(await page.locator('[data-testid=apply-blocked]').textContent()).toContain('有 1 行存在错误')

    // Everything: the change highlighted from → to in 万元, the new row in full.
    await page.click('[data-testid=tab-all]')
    const updateRow = table.locator('tbody tr[data-status=update]')
    expect(await updateRow.getAttribute('data-row')).toBe('5')
    expect(await updateRow.locator('.imp-id').textContent()).toBe(updated.id)
    const completed = updateRow.locator('li[data-field=investmentCompletedYuan]')
    expect(await completed.locator('del').textContent()).toBe(`${wan(updated.investmentCompletedYuan)}万元`)
    expect(await completed.locator('ins').textContent()).toBe('70000万元')
    expect(await updateRow.locator('li[data-field=progress] ins').textContent()).toBe('45%')
    const createRow = table.locator('tbody tr[data-status=create]')
    expect(await createRow.locator('.imp-name').textContent()).toBe(newName)
    expect(await createRow.locator('li[data-field=investmentYuan] ins').textContent()).toBe('12000.5万元')
    expect(await createRow.locator('li[data-field=stage] ins').textContent()).toBe('在建')
    expect(await createRow.locator('li[data-field=startedAt] ins').textContent()).toBe('2022-04-10')
    expect(await table.locator('tbody tr[data-status=unchanged]').getAttribute('data-row')).toBe('4')
    // The columns it recognised, the header it did not.
    expect(await page.locator('[data-testid=columns] li[data-field=investmentYuan]').textContent()).toContain('万元')
    expect(await page.locator('[data-testid=unmatched]').textContent()).toContain('联系电话')
    await page.screenshot({ path: resolve(SHOTS, 'import-dry-run.png'), fullPage: true })
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true)

    // The rows with errors as an XLSX with an error column.
    const errorsFile = await download(page, '[data-testid=download-errors]')
    expectXlsx(errorsFile.bytes)
    const errorCells = readXlsx(errorsFile.bytes).rows.flat()
    expect(errorCells).toContain('负投资测试项目')
    expect(errorCells).toContain('错误')
    expect(errorCells.some((c) => c.includes('总投资'))).toBe(true)

    // Skip the row with errors, apply: the wall gets the import as one frame.
    await page.check('[data-testid=skip-errors]')
    expect(await page.locator('[data-testid=apply]').isDisabled()).toBe(false)
    const framesBefore = (await frames(wall.page)).length
    await page.click('[data-testid=apply]')
    const done = page.locator('[data-testid=applied]')
    await done.waitFor()
    expect(await done.textContent()).toMatch(/导入完成：新建 1 个、更新 1 个项目，数据版本 \d+。/)
    await expect.poll(() => stageCount(wall.page, 'under_construction'), { timeout: 3000 }).toBe(constructionBefore + 1)
    await sleep(1000)
    const after = (await frames(wall.page)).slice(framesBefore).filter((f) => f.includes('"change"'))
    const messages = after.flatMap((f) => {
      const v = JSON.parse(f) as unknown
      return (Array.isArray(v) ? v : [v]) as { type: string; rev?: number }[]
    })
    console.log(`import → wall: ${after.length} frame(s) with ${messages.filter((m) => m.type === 'change').length} change message(s)`)
    expect(after.length).toBe(1)
    expect(messages.filter((m) => m.type === 'change').length).toBe(2)

    // What was written.
    const now = await projects()
    const created = now.find((p) => p.name === newName)!
    expect(created).toMatchObject({
      category: 'planned',
      year: 2022,
      sector: '高端装备',
      department: '经济发展局',
      stage: 'under_construction',
      investmentYuan: 120_005_000,
      annualPlanYuan: 30_000_000,
      investmentCompletedYuan: 12_002_500,
      progress: 35,
      plannedStart: '2022-03-01',
      startedAt: '2022-04-10',
      note: '导入的新项目',
    })
    expect(now.find((p) => p.name === '负投资测试项目')).toBeUndefined()
    const u = now.find((p) => p.id === updated.id)!
    expect(u.investmentCompletedYuan).toBe(700_000_000)
    expect(u.progress).toBe(45)
    expect(now.find((p) => p.id === unchanged.id)!.version).toBe(unchanged.version)
    const log = (await admin.ok<{ changes: Change[] }>('GET', `/api/projects/${encodeURIComponent(updated.id)}/changes?limit=1`)).changes
    expect(log[0]!.comment).toBe(`导入 ${fileName}`)
    expect(log[0]!.by).toBe(EDITOR.username)

    await page.click('[data-testid=to-register]')
    await page.waitForURL((x) => x.pathname === '/projects')
    expect(wall.errors).toEqual([])
    expect(errors).toEqual([])
  })

  it('an export edited in three cells imports back as exactly those three changes', async () => {
    const target = (await projects()).find((p) => p.id === 'JY22-P002')!
    const { page, errors } = await newPage()
    await loginUI(page, EDITOR.username, EDITOR.password, '/projects')
    await page.locator('[data-testid=projects-table] tbody tr[data-id]').first().waitFor()
    const exported = await download(page, '[data-testid=export-projects-xlsx]')

    // Three cells changed as Excel would change them: two numbers and a text.
    const read = readXlsx(exported.bytes)
    const head = read.rows[0]!
    const r = read.rows.findIndex((row) => row?.[head.indexOf('项目编号')] === target.id) + 1
    expect(r).toBeGreaterThan(1)
    const ref = (header: string) => `${columnLetter(head.indexOf(header))}${r}`
    const setCell = (xml: string, at: string, cell: string) => {
      const re = new RegExp(`<c r="${at}"[^>]*?(/>|>[\\s\\S]*?</c>)`)
      expect(xml, `cell ${at}`).toMatch(re)
      return xml.replace(re, cell)
    }
    const parts = unzip(exported.bytes)
    const sheetPath = [...parts.keys()].find((k) => /^xl\/worksheets\/sheet\d+\.xml$/.test(k) && parts.get(k)!.toString('utf8') === read.xml)!
    let xml = read.xml
    xml = setCell(xml, ref('年度完成投资（万元）'), `<c r="${ref('年度完成投资（万元）')}" s="2"><v>20000</v></c>`)
    xml = setCell(xml, ref('形象进度（%）'), `<c r="${ref('形象进度（%）')}"><v>60</v></c>`)
    xml = setCell(xml, ref('备注'), `<c r="${ref('备注')}" t="inlineStr"><is><t>导出后在 Excel 中修改的备注</t></is></c>`)
    parts.set(sheetPath, Buffer.from(xml, 'utf8'))
    const edited = zip([...parts].map(([name, data]) => ({ name, data })))

    await page.goto(`${server.base}/import`)
    await page.setInputFiles('[data-testid=file]', { name: exported.name, mimeType: XLSX_MIME, buffer: edited })
    await page.locator('[data-testid=dry-run]').waitFor()
    const count = (st: string) => page.locator(`[data-testid=tab-${st}]`).getAttribute('data-count')
    expect([await count('create'), await count('update'), await count('error')]).toEqual(['0', '1', '0'])
    expect(Number(await count('unchanged'))).toBe(read.rows.length - 2)
    const row = page.locator('[data-testid=import-table] tbody tr[data-status=update]')
    expect(await row.locator('.imp-id').textContent()).toBe(target.id)
    expect(await row.locator('li[data-field]').evaluateAll((els) => els.map((e) => e.getAttribute('data-field')))).toEqual([
      'investmentCompletedYuan',
      'progress',
      'note',
    ])
    expect(await row.locator('li[data-field=investmentCompletedYuan] ins').textContent()).toBe('20000万元')
    expect(await row.locator('li[data-field=note] ins').textContent()).toBe('导出后在 Excel 中修改的备注')
    expect(errors).toEqual([])
  })

  it('a project changed after the dry run: the apply is refused and the dry run runs again', async () => {
    const target = (await projects()).find((p) => p.id === 'JY22-P001')!
    const file = officeSheet([sheetRow(1, target, { progress: target.progress === 60 ? 61 : 60 })])
    const { page, errors } = await newPage({ allowed: REFUSALS })
    await loginUI(page, EDITOR.username, EDITOR.password, '/import')
    await page.setInputFiles('[data-testid=file]', { name: '复工进度.xlsx', mimeType: XLSX_MIME, buffer: file })
    await page.locator('[data-testid=dry-run]').waitFor()
    expect(await page.locator('[data-testid=tab-update]').getAttribute('data-count')).toBe('1')

    // Someone else edits the project meanwhile, a field the sheet does not have.
    await admin.ok('PATCH', `/api/projects/${encodeURIComponent(target.id)}`, { plannedCompletion: '2024-12-31' }, { 'If-Match': `"${target.version}"` })
    await page.click('[data-testid=apply]')
    const problem = page.locator('[data-testid=apply-problem]')
    await problem.waitFor()
    expect(await problem.getAttribute('data-problem')).toBe('stale')
    expect(await problem.textContent()).toContain('请重新预检')
    await page.click('[data-testid=rerun]')
    await expect.poll(() => page.locator('[data-testid=apply-problem]').count()).toBe(0)
    await page.locator('[data-testid=dry-run]').waitFor()
    expect(await page.locator('[data-testid=tab-update]').getAttribute('data-count')).toBe('1')
    expect(await page.locator('[data-testid=import-table] tbody tr[data-status=update] li[data-field]').evaluateAll((els) => els.map((e) => e.getAttribute('data-field')))).toEqual(['progress'])
    await page.click('[data-testid=apply]')
    await page.locator('[data-testid=applied]').waitFor()
    const now = await project(target.id)
    expect(now.plannedCompletion).toBe('2024-12-31')
    expect(now.progress).not.toBe(target.progress)
    expect(now.version).toBe(target.version + 2)
    expect(errors.filter((e) => !/status of 409/.test(e))).toEqual([])
  })

  it('says clearly when a file is not a spreadsheet or is too large, and takes a dropped CSV', async () => {
    const { page, errors } = await newPage({ allowed: REFUSALS })
    await loginUI(page, EDITOR.username, EDITOR.password, '/import')
    const fileError = page.locator('[data-testid=file-error]')

    await page.setInputFiles('[data-testid=file]', { name: '项目表.xlsx', mimeType: XLSX_MIME, buffer: Buffer.from('这不是一个表格文件') })
    await fileError.waitFor()
    expect(await fileError.textContent()).toMatch(/^无法读取“项目表\.xlsx”：.+/)
    console.log(`bad file: ${await fileError.textContent()}`)

    // A file on disk: a 21 MB buffer sent through the browser protocol takes too long.
    const dir = mkdtempSync(join(tmpdir(), 'pb-import-e2e-'))
    const bigFile = join(dir, '太大的表.csv')
    writeFileSync(bigFile, Buffer.alloc(21 * 1024 * 1024, 0x41))
    try {
      await page.setInputFiles('[data-testid=file]', bigFile)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    await expect.poll(() => fileError.textContent()).toContain('超过 20 MB')
    // The server refuses it too, on the announced length, before reading the body (it then
    // closes the connection, so a client that sends the body first sees a broken pipe).
    const refused = await announce(`${server.base}/api/imports?dryRun=true&year=2022`, 21 * 1024 * 1024, admin.cookie)
    expect(refused.status).toBe(413)
    expect(refused.body).toContain('too_large')

    // A CSV dropped on the drop zone, UTF-8 with a BOM as Excel saves "CSV UTF-8".
    const csv = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('项目名称,项目类别,所属行业,责任单位,推进阶段,总投资（万元）\n拖入的招商项目,招商引资,数字经济,投资促进局,洽谈,"5,000"\n', 'utf8'),
    ])
    const dt = await page.evaluateHandle((b64: string) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
      const d = new DataTransfer()
      d.items.add(new File([bytes], '拖入.csv', { type: 'text/csv' }))
      return d
    }, csv.toString('base64'))
    await page.dispatchEvent('[data-testid=dropzone]', 'drop', { dataTransfer: dt })
    await page.locator('[data-testid=dry-run]').waitFor()
    expect(await fileError.count()).toBe(0)
    expect(await page.locator('[data-testid=tab-create]').getAttribute('data-count')).toBe('1')
    const row = page.locator('[data-testid=import-table] tbody tr[data-status=create]')
    expect(await row.locator('li[data-field=investmentYuan] ins').textContent()).toBe('5000万元')
    expect(await row.locator('li[data-field=stage] ins').textContent()).toBe('洽谈')
    expect(errors.filter((e) => !/status of (413|422)/.test(e))).toEqual([])
  })

  it('the dry run answer has the shape the page reads', async () => {
    // A direct check of the contract the page is built on, so a change shows up here by name.
    const form = new FormData()
    form.append('file', new Blob([Buffer.from('项目名称,推进阶段\n长春影视产业园,在建\n', 'utf8')]), 'shape.csv')
    const r = await fetch(`${server.base}/api/imports?dryRun=true&year=2022`, { method: 'POST', body: form, headers: { Cookie: admin.cookie, Origin: server.base } })
    expect(r.status).toBe(200)
    const body = (await r.json()) as ImportResult
    expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(['columns', 'counts', 'expiresAt', 'fileName', 'format', 'headerRow', 'id', 'notes', 'rows', 'unmatched', 'year']))
    expect(body.fileName).toBe('shape.csv')
    expect(body.format).toBe('csv-utf8')
    expect(body.rows[0]).toMatchObject({ row: 2, status: 'unchanged', projectId: 'JY22-P001' })
    expect(Number.isNaN(Date.parse(body.expiresAt))).toBe(false)
  })
})
