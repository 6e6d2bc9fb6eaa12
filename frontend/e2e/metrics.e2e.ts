// Browser tests of the rates as offices define them and of the effective date of a stage
// change (docs/metrics.md), against the real server with the bundled 2022 data.
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Project, Summary } from '../src/api/types'
import { zoneToday } from '../src/format'
import { ADMIN_PASSWORD, Api, launch, sleep, TestServer, watchConsole } from './harness'

const SHOTS = resolve(import.meta.dirname, '../test-results/screenshots')

let server: TestServer
let browser: Browser
let admin: Api
const contexts: BrowserContext[] = []

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 }, locale: 'zh-CN' })
  contexts.push(ctx)
  const page = await ctx.newPage()
  return { page, errors: watchConsole(page) }
}

async function login(page: Page, next: string): Promise<void> {
  await page.goto(`${server.base}/login?next=${encodeURIComponent(next)}`)
  await page.fill('input[name=username]', 'ed9')
  await page.fill('input[name=password]', 'ed9-password-123')
  await page.press('input[name=password]', 'Enter')
  await page.waitForURL((u) => !u.pathname.startsWith('/login'))
}

const summary2022 = () => admin.ok<Summary>('GET', '/api/summary?year=2022')

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  browser = await launch()
  server = await TestServer.start()
  admin = new Api(server.base)
  await admin.login('admin', ADMIN_PASSWORD)
  await admin.ok('POST', '/api/users', { username: 'ed9', password: 'ed9-password-123', displayName: '编辑9', role: 'editor', departments: [] })
})

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined)
  await browser?.close()
  await server?.stop()
})

describe('rates and effective dates', () => {
  it('the tiles show the bundled figures with their denominators on hover', async () => {
    const { page, errors } = await newPage()
    await login(page, '/')
    const kpi = (k: string) => page.locator(`[data-kpi=${k}]`)
    await expect.poll(() => kpi('startRate').locator('.num').textContent()).toBe('100%')
    expect(await kpi('startRate').getAttribute('title')).toBe('已开复工 102 个（新开工 52 + 续建复工 50）/ 计划开复工 102 个（新开工 52 + 续建 50）')
    expect(await kpi('startRate').locator('.kpi-sub').textContent()).toBe('开工率 100%')
    expect(await kpi('startRate').locator('.kpi-sub').getAttribute('title')).toBe('新开工 52 个 / 计划新开工 52 个')
    expect(await kpi('completionRate').locator('.num').textContent()).toBe('86.8%')
    expect(await kpi('completionRate').getAttribute('title')).toBe('年内竣工 33 个 / 计划年内竣工 38 个')
    expect(await kpi('investmentRate').locator('.num').textContent()).toBe('96.9%')
    expect(await kpi('investmentRate').locator('[data-testid=gap]').textContent()).toBe('-3.1')
    expect(await kpi('investmentRate').locator('[data-testid=gap]').getAttribute('title')).toBe('慢于序时进度 3.1 个百分点')
    expect(await kpi('investmentRate').locator('.kpi-sub').textContent()).toBe('序时进度 100%')
    expect(await kpi('investmentRate').locator('.kpi-sub').getAttribute('title')).toBe('按月计：已过 12/12 个月')
    expect(errors).toEqual([])
  })

  it("a 2022 project completed in the form with the day it happened counts in 2022's 竣工率", async () => {
    const all = (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects
    const target = all.find((p) => p.category === 'planned' && p.stage === 'under_construction' && p.plannedCompletion?.startsWith('2024'))!
    const before = await summary2022()
    const { page, errors } = await newPage()
    // The refusals this test provokes on purpose are none: the form checks before it sends.
    await login(page, `/projects/${encodeURIComponent(target.id)}`)
    await page.locator('#f-stage').waitFor()

    // Only the stages of a construction project are offered.
    const options = await page.locator('#f-stage option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))
    expect(options).toEqual(['preparing', 'under_construction', 'completed', 'operating'])

    // No stage change, no effective date.
    expect(await page.locator('#f-effectiveDate').count()).toBe(0)
    await page.selectOption('#f-stage', 'completed')
    const eff = page.locator('#f-effectiveDate')
    await eff.waitFor()
    expect(await eff.inputValue()).toBe(zoneToday())
    expect(await page.locator('#f-progress').inputValue()).toBe('100')

    // A date before the project's year is refused in the form, in Chinese, before anything is sent.
    await eff.fill('2021-12-31')
    await page.click('[data-testid=save]')
    await page.locator('#e-effectiveDate').waitFor()
    expect(await page.locator('#e-effectiveDate').textContent()).toBe('生效日期不能早于项目所属年度（2022 年）')
    expect((await admin.ok<Project>('GET', `/api/projects/${encodeURIComponent(target.id)}`)).version).toBe(target.version)

    // So is 形象进度 below 100 at 竣工.
    await eff.fill('2022-11-20')
    await page.fill('#f-progress', '54')
    await page.click('[data-testid=save]')
    await page.locator('#e-progress').waitFor()
    expect(await page.locator('#e-progress').textContent()).toBe('竣工或投产的项目，形象进度应为 100%')

    await page.fill('#f-progress', '100')
    await page.fill('#f-comment', '竣工验收')
    await page.screenshot({ path: resolve(SHOTS, 'effective-date.png'), fullPage: true })
    await page.click('[data-testid=save]')
    await page.locator('[data-testid=saved]').waitFor()
    const now = await admin.ok<Project>('GET', `/api/projects/${encodeURIComponent(target.id)}`)
    expect(now.stage).toBe('completed')
    expect(now.completedAt).toBe('2022-11-20')
    expect(now.progress).toBe(100)

    const after = await summary2022()
    expect(after.completion).toEqual({ completed: before.completion.completed + 1, due: before.completion.due, notDue: before.completion.notDue + 1 })
    expect(after.planned.startRate).toBe(before.planned.startRate)

    // The dashboard's 竣工率 tile says why it moved.
    await page.goto(`${server.base}/`)
    const tile = page.locator('[data-kpi=completionRate]')
    await expect.poll(() => tile.getAttribute('title')).toBe('年内竣工 34 个 / 计划年内竣工 38 个（其中 1 个不是本年计划竣工的项目）')
    expect(await tile.locator('.num').textContent()).toBe('89.5%')
    await sleep(300)
    await page.screenshot({ path: resolve(SHOTS, 'dashboard-rates.png') })
    expect(errors).toEqual([])
  })

  it('the server refuses what the form would: a stage of another category, 54 % at 竣工, more done than the total, a future date', async () => {
    const all = (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects
    const planned = all.find((p) => p.category === 'planned' && p.stage === 'under_construction')!
    const attraction = all.find((p) => p.category === 'attraction' && p.stage === 'negotiating')!
    const cases: [Project, Record<string, unknown>, string][] = [
      [planned, { stage: 'negotiating' }, 'stage'],
      [attraction, { stage: 'operating' }, 'stage'],
      [planned, { stage: 'completed', progress: 54 }, 'progress'],
      [planned, { investmentCompletedYuan: planned.investmentYuan + 1 }, 'investmentCompletedYuan'],
      [planned, { stage: 'completed', effectiveDate: '2099-01-01' }, 'effectiveDate'],
    ]
    for (const [p, body, field] of cases) {
      const r = await admin.call<{ error: { code: string; field: string; message: string; messageZh?: string } }>(
        'PATCH', `/api/projects/${encodeURIComponent(p.id)}`, body, { 'If-Match': `"${p.version}"` })
      expect([r.status, r.data.error.code, r.data.error.field]).toEqual([422, 'invalid_value', field])
      // In both languages.
      expect(r.data.error.message).toMatch(/^[\x20-\x7e]+$/)
      expect(r.data.error.messageZh).toMatch(/[\u4e00-\u9fff]/)
    }
  })
})
