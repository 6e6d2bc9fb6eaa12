// The monthly cycle in the browser, against the real binary with its clock at 8 November
// 2022 (--clock): a unit reports October, the office reviews and closes it, an edit afterwards
// lands in November, October against September shows the change, a late project is red on its
// page and on the wall, a threshold change reaches every screen within a second, and a problem
// goes from raised to resolved in the register with its history.
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedToken, MonthComparison, MonthView, Problem, Project, Report, ReportRow, WarningRules } from '../src/api/types'
import { ADMIN_PASSWORD, Api, launch, loginThroughPage, TestServer, watchConsole } from './harness'

// As in app.e2e.ts: test-results/ normally, docs/screenshots with UPDATE_SCREENSHOTS=1.
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, '../../docs/screenshots')
  : resolve(import.meta.dirname, '../test-results/screenshots')
const CLOCK = '2022-11-08T10:00:00+08:00'
const UNIT_PASSWORD = 'unit-password-123'

let server: TestServer
let browser: Browser
let admin: Api
let unit: Api
let dept = ''
let wallToken = ''
let october: ReportRow[] = []
let deptCount = 0
const contexts: BrowserContext[] = []

async function newPage(width = 1440, height = 900): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width, height }, locale: 'zh-CN' })
  contexts.push(ctx)
  const page = await ctx.newPage()
  // 4xx answers the pages show as messages (a stale version, a closed month) are expected.
  return { page, errors: watchConsole(page, [/status of 4\d\d/]) }
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  browser = await launch()
  server = await TestServer.start(['--clock', CLOCK])
  admin = new Api(server.base)
  await admin.login('admin', ADMIN_PASSWORD)
  wallToken = (await admin.ok<CreatedToken>('POST', '/api/tokens', { kind: 'display', name: 'cycle' })).token
  // The unit with the most construction projects in the 2022 list reports.
  const all = (await admin.ok<{ rows: ReportRow[] }>('GET', '/api/months/2022-10/reports')).rows
  const count = new Map<string, number>()
  for (const r of all) count.set(r.project.department, (count.get(r.project.department) ?? 0) + 1)
  dept = [...count.entries()].sort((a, b) => b[1] - a[1])[0]![0]
  deptCount = count.get(dept)!
  october = all.filter((r) => r.project.department === dept).slice(0, 3)
  await admin.ok('POST', '/api/users', { username: 'unit1', password: UNIT_PASSWORD, displayName: '单位填报员', role: 'editor', departments: [dept] })
  unit = new Api(server.base)
  await unit.login('unit1', UNIT_PASSWORD)
  // September is closed already: October is compared with it.
  await admin.ok('POST', '/api/months/2022-09/close', undefined, { 'If-Match': '"0"' })
})

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined)
  await browser?.close()
  await server?.stop()
})

describe('the monthly cycle', () => {
  it("a unit's editor fills in October for their projects and submits them together", async () => {
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, 'unit1', UNIT_PASSWORD, '/reports')
    await page.locator('[data-testid=report-table] tbody tr[data-id]').first().waitFor()
    expect(await page.locator('[data-testid=report-month]').inputValue()).toBe('2022-10')
    // Only the unit's projects are listed.
    const ids = await page.locator('[data-testid=report-table] tbody tr[data-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))
    expect(ids.length).toBe(deptCount)
    for (const [i, r] of october.entries()) {
      const row = page.locator(`[data-testid=report-table] tr[data-id="${r.project.id}"]`)
      await row.locator('[data-field=monthYuan]').fill(String(100 * (i + 1))) // 万元
      await row.locator('[data-field=progress]').fill(String(Math.min(100, r.project.progress + 5)))
      await row.locator('[data-field=progressText]').fill(`十月完成主体施工 ${i + 1}`)
    }
    await page.locator('[data-testid=submit-reports]').click()
    await page.locator('[data-testid=report-notice]').waitFor()
    await page.locator(`[data-testid=report-table] tr[data-id="${october[0]!.project.id}"]`).scrollIntoViewIfNeeded()
    await page.screenshot({ path: resolve(SHOTS, 'cycle-reports-unit.png') })
    for (const [i, r] of october.entries()) {
      const rep = await unit.ok<Report>('GET', `/api/projects/${encodeURIComponent(r.project.id)}/reports/2022-10`)
      expect(rep.status).toBe('submitted')
      expect(rep.monthYuan).toBe(100 * (i + 1) * 10_000)
      expect(rep.cumulativeYuan).toBe(rep.openingYuan + rep.monthYuan)
      expect(rep.reportedBy).toBe('unit1')
      const p = await unit.ok<Project>('GET', `/api/projects/${encodeURIComponent(r.project.id)}`)
      expect(p.investmentCompletedYuan).toBe(rep.cumulativeYuan)
    }
    expect(errors).toEqual([])
  })

  it('the office returns one with a reason, approves the rest and closes October', async () => {
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, 'admin', ADMIN_PASSWORD, '/reports?month=2022-10')
    await page.locator('[data-testid=unit-status]').waitFor()
    await page.locator('[data-testid=report-table] tbody tr[data-id]').first().waitFor()
    const [returned, ...approved] = october
    const back = page.locator(`[data-testid=report-table] tr[data-id="${returned!.project.id}"]`)
    await back.locator('[data-testid=return]').click()
    await page.locator('[data-testid=return-reason-input]').fill('本月完成投资与支付凭证不符，请核实')
    await page.locator('[data-testid=confirm-return]').click()
    await back.locator('[data-testid=report-status]').filter({ hasText: '退回' }).waitFor()
    for (const r of approved) {
      const row = page.locator(`[data-testid=report-table] tr[data-id="${r.project.id}"]`)
      await row.locator('[data-testid=approve]').click()
      await row.locator('[data-testid=report-status]').filter({ hasText: '已审核' }).waitFor()
    }
    const ret = await admin.ok<Report>('GET', `/api/projects/${encodeURIComponent(returned!.project.id)}/reports/2022-10`)
    expect(ret.status).toBe('returned')
    expect(ret.returnReason).toContain('支付凭证')
    for (const r of approved) {
      expect((await admin.ok<Report>('GET', `/api/projects/${encodeURIComponent(r.project.id)}/reports/2022-10`)).status).toBe('approved')
    }
    // The unit's status on the office's table.
    const units = (await admin.ok<{ units: { department: string; returned: number; approved: number }[] }>('GET', '/api/months/2022-10/reports')).units
    const mine = units.find((u) => u.department === dept)!
    expect([mine.returned, mine.approved]).toEqual([1, 2])
    await back.scrollIntoViewIfNeeded()
    await page.screenshot({ path: resolve(SHOTS, 'cycle-reports-office.png') })

    await page.goto(`${server.base}/months`)
    const row = page.locator('[data-testid=months-table] tr[data-month="2022-10"]')
    page.once('dialog', (d) => void d.accept()) // "close October?"
    await row.locator('[data-testid=close-month]').click()
    await row.locator('[data-testid=month-status]').filter({ hasText: '已关账' }).or(row.locator('.ms-closed')).first().waitFor()
    const months = await admin.ok<{ months: { month: string; status: string }[] }>('GET', '/api/months?year=2022')
    expect(months.months.find((m) => m.month === '2022-10')!.status).toBe('closed')
    expect(errors).toEqual([])
  })

  it("an edit afterwards leaves October's figures unchanged and shows in November", async () => {
    const before = await admin.ok<MonthView>('GET', '/api/months/2022-10/summary')
    const p = await unit.ok<Project>('GET', `/api/projects/${encodeURIComponent(october[1]!.project.id)}`)
    const more = p.investmentCompletedYuan + 5_000_000
    await unit.ok('PATCH', `/api/projects/${encodeURIComponent(p.id)}`, { investmentCompletedYuan: Math.min(more, p.investmentYuan) }, { 'If-Match': `"${p.version}"` })
    const after = await admin.ok<MonthView>('GET', '/api/months/2022-10/summary')
    const nov = await admin.ok<MonthView>('GET', '/api/months/2022-11/summary')
    expect(after.summary.investment.completedYuan).toBe(before.summary.investment.completedYuan)
    expect(after.snapshot).toBe(1)
    expect(nov.status).toBe('open')
    expect(nov.summary.investment.completedYuan).toBe(before.summary.investment.completedYuan + Math.min(more, p.investmentYuan) - p.investmentCompletedYuan)
    // A report of the closed month is refused.
    const late = await unit.call('PUT', `/api/projects/${encodeURIComponent(october[0]!.project.id)}/reports/2022-10`, { monthYuan: 1, progress: 1, progressText: '', problemsText: '' }, { 'If-Match': '"2"' })
    expect(late.status).toBe(409)

    // The dashboard as it was at the end of October.
    const { page } = await newPage()
    await loginThroughPage(page, server.base, 'admin', ADMIN_PASSWORD, '/months?month=2022-10')
    await page.locator('[data-testid=month-asof]').filter({ hasText: '2022年10月' }).waitFor()
  })

  it('the comparison of October with September shows the change', async () => {
    const cmp = await admin.ok<MonthComparison>('GET', '/api/months/2022-10/compare?with=2022-09')
    expect(cmp.kind).toBe('mom')
    const changed = new Set(cmp.projects.filter((p) => p.status === 'changed').map((p) => p.id))
    for (const r of october) expect(changed.has(r.project.id)).toBe(true)
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, 'admin', ADMIN_PASSWORD, '/months?month=2022-10')
    await page.locator('[data-testid=compare-projects]').waitFor()
    for (const r of october) {
      await page.locator(`[data-testid=compare-projects] tr[data-id="${r.project.id}"][data-status=changed]`).waitFor()
    }
    await page.locator('[data-testid=compare]').scrollIntoViewIfNeeded()
    await page.evaluate(() => document.querySelector('[data-testid=compare]')?.scrollIntoView({ block: 'start' }))
    await page.screenshot({ path: resolve(SHOTS, 'cycle-compare.png') })
    expect(errors).toEqual([])
  })

  let late: Project
  it('a project whose planned start passed three months ago is red, with its reason on the project page and the wall', async () => {
    late = await admin.ok<Project>('POST', '/api/projects', {
      name: '净月智能制造产业园（预警测试）', category: 'planned', year: 2022, sector: october[0]!.project.sector,
      // No annual plan yet: only the late start makes it red.
      department: dept, leader: '张副主任', stage: 'preparing', investmentYuan: 500_000_000, annualPlanYuan: 0,
      plannedStart: '2022-08-01', plannedCompletion: '2024-12-31',
    })
    expect(late.warning.level).toBe('red')
    const reason = late.warning.reasons.find((r) => r.rule === 'notStarted')!
    expect(reason.level).toBe('red')
    expect(reason.value).toBe(3)

    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, 'admin', ADMIN_PASSWORD, `/projects/${encodeURIComponent(late.id)}`)
    await page.locator('[data-testid=warning-reasons]').filter({ hasText: '逾期 3 个月未开工' }).waitFor()
    await page.screenshot({ path: resolve(SHOTS, 'cycle-project-red.png') })

    const wall = await newPage(1920, 1080)
    await wall.page.goto(`${server.base}/wall?token=${encodeURIComponent(wallToken)}&rotate=0`)
    await wall.page.locator('[data-testid=wall-conn].conn-open').waitFor()
    const line = wall.page.locator(`[data-testid=wall-red-list] li[data-id="${late.id}"]`)
    await line.filter({ hasText: '未开工' }).waitFor({ timeout: 10_000 }).catch(async (e: unknown) => {
      await wall.page.screenshot({ path: resolve(SHOTS, 'cycle-wall-red-failed.png') })
      throw new Error(`${String(e)}\nthe wall's red list: ${await wall.page.locator('[data-testid=wall-warnings]').innerText()}`)
    })
    await wall.page.screenshot({ path: resolve(SHOTS, 'cycle-wall-red.png') })
    expect(errors).toEqual([])
    expect(wall.errors).toEqual([])
  })

  it('changing the red threshold turns it yellow on every screen within a second', async () => {
    const walls = [await newPage(1920, 1080), await newPage(1920, 1080)]
    for (const w of walls) {
      await w.page.goto(`${server.base}/wall?token=${encodeURIComponent(wallToken)}&rotate=0`)
      await w.page.locator(`[data-testid=wall-red-list] li[data-id="${late.id}"]`).waitFor()
    }
    const dash = await newPage()
    await loginThroughPage(dash.page, server.base, 'admin', ADMIN_PASSWORD, `/projects/${encodeURIComponent(late.id)}`)
    await dash.page.locator('[data-testid=warning-reasons].warn-box-red').waitFor()

    // Each page notes (its own Date.now, the same clock as ours) when the change shows, so the
    // figure does not include the test's polling.
    for (const w of walls) {
      await w.page.evaluate((id) => {
        const g = window as unknown as { __shownAt?: number }
        const obs = new MutationObserver(() => {
          if (!document.querySelector(`[data-testid=wall-red-list] li[data-id="${id}"]`)) {
            g.__shownAt = Date.now()
            obs.disconnect()
          }
        })
        obs.observe(document.body, { childList: true, subtree: true })
      }, late.id)
    }
    await dash.page.evaluate(() => {
      const g = window as unknown as { __shownAt?: number }
      const obs = new MutationObserver(() => {
        if (document.querySelector('[data-testid=warning-reasons].warn-box-yellow')) {
          g.__shownAt = Date.now()
          obs.disconnect()
        }
      })
      obs.observe(document.body, { childList: true, subtree: true, attributes: true })
    })
    const rules = await admin.ok<WarningRules>('GET', '/api/settings/warnings')
    const t0 = Date.now()
    await admin.ok('PUT', '/api/settings/warnings', { ...rules, notStarted: { ...rules.notStarted, redMonths: 4 } }, { 'If-Match': `"${rules.version}"` })
    const committed = Date.now() - t0
    await Promise.all([
      ...walls.map((w) => w.page.locator(`[data-testid=wall-red-list] li[data-id="${late.id}"]`).waitFor({ state: 'detached', timeout: 1000 })),
      dash.page.locator('[data-testid=warning-reasons].warn-box-yellow').waitFor({ timeout: 1000 }),
    ])
    const shown = await Promise.all([...walls, dash].map((w) => w.page.evaluate(() => (window as unknown as { __shownAt?: number }).__shownAt ?? Number.NaN)))
    const elapsed = Math.max(...shown) - t0
    console.log(`the threshold change reached two walls and a project page in ${elapsed} ms (the PUT, committed with the re-evaluation, answered in ${committed} ms)`)
    expect(elapsed).toBeLessThan(1000)
    const p = await admin.ok<Project>('GET', `/api/projects/${encodeURIComponent(late.id)}`)
    expect(p.warning.level).toBe('yellow')
  })

  it('a problem raised and resolved shows in the register and its history', async () => {
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, 'unit1', UNIT_PASSWORD, `/projects/${encodeURIComponent(late.id)}`)
    await page.locator('[data-testid=raise-problem]').click()
    const form = page.locator('[data-testid=raise-form]')
    await form.locator('textarea[name=description]').fill('用地规划许可未批复，影响开工')
    await form.locator('input[name=due]').fill('2022-11-30')
    await form.locator('[data-testid=raise-submit]').click()
    const row = page.locator('[data-testid=project-problems] tr[data-problem]').filter({ hasText: '用地规划许可' })
    await row.waitFor()
    const id = (await row.getAttribute('data-problem'))!
    const detail = page.locator(`[data-testid=problem-detail][data-problem="${id}"]`)
    // The list reloads when the project's change (its open-problem count) arrives: click again
    // if that closed the row.
    for (let i = 0; i < 5 && !(await detail.isVisible()); i++) {
      await row.click()
      await detail.waitFor({ timeout: 2000 }).catch(() => undefined)
    }
    await detail.locator('[data-testid=problem-status-select]').selectOption('resolved')
    await detail.locator('[data-testid=problem-resolution-input]').fill('规划局已于11月10日批复')
    await detail.locator('[data-testid=problem-save]').click()
    await detail.locator('[data-testid=problem-status]').filter({ hasText: '已解决' }).waitFor()

    const pr = await admin.ok<Problem>('GET', `/api/problems/${id}`)
    expect(pr.status).toBe('resolved')
    expect(pr.history.map((h) => h.kind)).toEqual(['raised', 'updated'])

    await page.goto(`${server.base}/problems?status=resolved`)
    const reg = page.locator(`[data-testid=problems-table] tr[data-problem="${id}"]`)
    await reg.filter({ hasText: '已解决' }).waitFor()
    await reg.click()
    await page.locator('[data-testid=problem-history] li').nth(1).waitFor()
    await page.screenshot({ path: resolve(SHOTS, 'cycle-problems.png') })
    expect(errors).toEqual([])
  })

  it('the admin reopens September with a reason: audited, and the month is open again', async () => {
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, 'admin', ADMIN_PASSWORD, '/months')
    const row = page.locator('[data-testid=months-table] tr[data-month="2022-09"]')
    await row.locator('[data-testid=reopen-month]').click()
    await page.locator('[data-testid=confirm-reopen]').click() // no reason yet: refused in the dialog
    await page.locator('[data-testid=reopen-dialog] .field-error').waitFor()
    await page.locator('[data-testid=reopen-reason]').fill('补录9月漏报项目')
    await page.locator('[data-testid=confirm-reopen]').click()
    await row.locator('.ms-open').waitFor()
    const months = await admin.ok<{ months: { month: string; status: string; history: { action: string; reason?: string }[] }[] }>('GET', '/api/months?year=2022')
    const sep = months.months.find((m) => m.month === '2022-09')!
    expect(sep.status).toBe('open')
    expect(sep.history.at(-1)).toMatchObject({ action: 'reopen', reason: '补录9月漏报项目' })
    const audit = await admin.ok<{ events: { type: string; target: string }[] }>('GET', '/api/audit?type=month.reopened')
    expect(audit.events.some((e) => e.target === '2022-09')).toBe(true)
    expect(errors).toEqual([])
  })

  it("the admin starts the 2023 lists: unfinished projects carried over, the live figures become 2023's", async () => {
    const { page, errors } = await newPage()
    await loginThroughPage(page, server.base, 'admin', ADMIN_PASSWORD, '/admin')
    const section = page.locator('[data-testid=year-lists]')
    await section.locator('tr[data-year="2022"]').waitFor()
    page.once('dialog', (d) => void d.accept())
    await section.locator('[data-testid=start-year]').click()
    await section.locator('tr[data-year="2023"]').waitFor()
    const years = await admin.ok<{ current: number; years: { year: number; carried: number; projects: number }[] }>('GET', '/api/years')
    expect(years.current).toBe(2023)
    const y23 = years.years.find((y) => y.year === 2023)!
    expect(y23.carried).toBe(y23.projects)
    expect(y23.carried).toBeGreaterThan(0)
    const sum = await admin.ok<{ year: number; total: { count: number } }>('GET', '/api/summary')
    expect([sum.year, sum.total.count]).toEqual([2023, y23.projects])
    expect(errors).toEqual([])
  })
})
