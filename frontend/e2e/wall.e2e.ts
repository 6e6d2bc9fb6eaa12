// The wall screen (大屏), second generation, against the real binary with its clock at
// 8 November 2022 (the bundled data has red and yellow projects then): each page alone and in
// rotation, every screen shape without scroll bars, clipped text or small text, a project
// turning red on the 预警 page within a second, a wall narrowed to one unit, and the settings a
// screen left on for months needs.
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedToken, Problem, Project, Summary } from '../src/api/types'
import { ADMIN_PASSWORD, Api, launch, sleep, TestServer, watchConsole } from './harness'

// As in app.e2e.ts: test-results/ normally, docs/screenshots with UPDATE_SCREENSHOTS=1.
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, '../../docs/screenshots')
  : resolve(import.meta.dirname, '../test-results/screenshots')
const CLOCK = '2022-11-08T10:00:00+08:00'
const PAGES = ['overview', 'warnings', 'problems', 'units'] as const

/** The screens a wall runs on: 16:9 at 1080p and 4K, 32:9 and 48:9 LED walls, and a 1280×720 CSS viewport at 150 %. */
const SHAPES = [
  { name: '1080p', width: 1920, height: 1080, scale: 1 },
  { name: '4k', width: 3840, height: 2160, scale: 1 },
  { name: '32x9', width: 3840, height: 1080, scale: 1 },
  { name: '48x9', width: 5760, height: 1080, scale: 1 },
  { name: '720p-150', width: 1280, height: 720, scale: 1.5 },
] as const

let server: TestServer
let browser: Browser
let admin: Api
let token = ''
const contexts: BrowserContext[] = []

async function newWall(query: string, shape: { width: number; height: number; scale?: number } = SHAPES[0], before?: (page: Page) => Promise<unknown>) {
  const ctx = await browser.newContext({ viewport: { width: shape.width, height: shape.height }, deviceScaleFactor: shape.scale ?? 1, locale: 'zh-CN' })
  contexts.push(ctx)
  const page = await ctx.newPage()
  const errors = watchConsole(page)
  await before?.(page)
  await page.goto(`${server.base}/wall?token=${encodeURIComponent(token)}${query ? `&${query}` : ''}`)
  await page.locator('[data-testid=wall-conn].conn-open').waitFor()
  await page.locator('.wall-slot').first().waitFor()
  return { page, errors, ctx }
}

async function closeAll(): Promise<void> {
  while (contexts.length > 0) await contexts.pop()!.close().catch(() => undefined)
}

const shownPages = (page: Page) => page.locator('.wall-slot').evaluateAll((els) => els.map((e) => e.getAttribute('data-page')))
const onPages = (page: Page) => page.locator('[data-testid=wall-pages] li.on').evaluateAll((els) => els.map((e) => e.getAttribute('data-page')))

/** What the wall must never do on any screen, measured in the page. */
interface FitReport {
  scroll: { sw: number; cw: number; sh: number; ch: number }
  minFont: number
  minFontAt: string
  clipped: string[]
}

async function fitReport(page: Page): Promise<FitReport> {
  return page.evaluate(() => {
    const se = document.scrollingElement!
    let minFont = Infinity
    let minFontAt = ''
    const clipped: string[] = []
    const describe = (el: Element) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} «${(el.textContent ?? '').trim().slice(0, 40)}»`
    for (const el of document.querySelectorAll<HTMLElement>('.wall *')) {
      const cs = getComputedStyle(el)
      if (cs.display === 'none' || cs.visibility === 'hidden') continue
      const ownText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim() !== '')
      if (ownText) {
        const fs = parseFloat(cs.fontSize)
        if (fs < minFont) {
          minFont = fs
          minFontAt = describe(el)
        }
      }
      // A box that clips: text wider than it must end in an ellipsis with the whole text in a
      // title; nothing may be cut off at the bottom (a glyph's descent of 0.2 em aside).
      const clipsX = cs.overflowX !== 'visible'
      const clipsY = cs.overflowY !== 'visible'
      if (clipsX && el.scrollWidth > el.clientWidth + 1) {
        const titled = el.closest('[title]')?.getAttribute('title') ?? ''
        const text = (el.textContent ?? '').trim()
        if (cs.textOverflow !== 'ellipsis' || !titled.includes(text.slice(0, 12))) clipped.push(`x ${el.scrollWidth}>${el.clientWidth} ${describe(el)}`)
      }
      if (clipsY && el.scrollHeight > el.clientHeight + Math.max(2, 0.2 * parseFloat(cs.fontSize))) clipped.push(`y ${el.scrollHeight}>${el.clientHeight} ${describe(el)}`)
    }
    return { scroll: { sw: se.scrollWidth, cw: se.clientWidth, sh: se.scrollHeight, ch: se.clientHeight }, minFont, minFontAt, clipped }
  })
}

async function expectFits(page: Page, height: number, what: string): Promise<void> {
  const r = await fitReport(page)
  expect(r.scroll.sw, `${what}: no horizontal scroll bar`).toBeLessThanOrEqual(r.scroll.cw)
  expect(r.scroll.sh, `${what}: no vertical scroll bar`).toBeLessThanOrEqual(r.scroll.ch)
  expect(r.clipped, `${what}: clipped text`).toEqual([])
  // 14 px at 1080p: 9.33 CSS px on a 720-px-high viewport, 28 on 4K.
  expect(r.minFont, `${what}: smallest text (${r.minFontAt})`).toBeGreaterThanOrEqual((14 * height) / 1080 - 0.01)
}

/** Charts are canvases: wait until each visible one has been drawn before a screenshot. */
async function chartsDrawn(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const charts = [...document.querySelectorAll('[_echarts_instance_]')]
    return charts.every((c) => [...c.querySelectorAll('canvas')].some((k) => k.width > 0))
  })
  await sleep(300)
}

let problems: Problem[] = []

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  browser = await launch()
  server = await TestServer.start(['--clock', CLOCK])
  admin = new Api(server.base)
  await admin.login('admin', ADMIN_PASSWORD)
  token = (await admin.ok<CreatedToken>('POST', '/api/tokens', { kind: 'display', name: 'wall-e2e' })).token
  // A register to show: problems for other units to act on, some overdue, one being coordinated.
  const list = (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects.filter((p) => p.category !== 'attraction')
  const raise = [
    { description: '用地规划许可未批复，影响开工', unit: '自然资源局', due: '2022-10-20' },
    { description: '施工用电接入滞后，需协调供电公司', unit: '城乡建设局', due: '2022-11-30' },
    { description: '征地拆迁补偿未达成一致', unit: '新湖镇', due: '2022-11-01' },
    { description: '环评批复待省厅审核' },
    { description: '资金拨付滞后，施工单位垫资困难', unit: '财政局', due: '2022-12-15' },
    { description: '地下管线迁改方案未确定，需燃气、供水、通信单位共同确认迁改路由和时序', unit: '城乡建设局', due: '2022-10-31' },
    { description: '冬季施工方案待专家论证' },
    { description: '配套道路未完工，材料运输受阻', unit: '城乡建设局', due: '2022-11-05' },
  ]
  for (const [i, r] of raise.entries()) {
    const p = list[(i * 11) % list.length]!
    const pr = await admin.ok<Problem>('POST', `/api/projects/${encodeURIComponent(p.id)}/problems`, r)
    if (i % 3 === 1) await admin.ok('PATCH', `/api/problems/${pr.id}`, { status: 'coordinating' }, { 'If-Match': `"${pr.version}"` })
  }
  problems = (await admin.ok<{ problems: Problem[] }>('GET', '/api/problems?open=1')).problems
})

afterAll(async () => {
  await closeAll()
  await browser?.close()
  await server?.stop()
})

describe('the wall, page by page', () => {
  it('shows each page alone, and ignores a page name it does not know', { timeout: 180_000 }, async () => {
    const summary = await admin.ok<Summary>('GET', '/api/summary')
    for (const name of PAGES) {
      const { page, errors } = await newWall(`pages=${name},nonsense&rotate=0`)
      expect(await shownPages(page)).toEqual([name])
      // One page: nothing rotates, so there is no indicator.
      expect(await page.locator('[data-testid=wall-pages]').count()).toBe(0)
      switch (name) {
        case 'overview':
          await expect.poll(() => page.locator('[data-kpi=planned] .num').textContent()).toBe('102')
          expect(await page.locator('[data-testid=wall-warnings] [data-level=red] [data-testid=wall-warning-count]').textContent()).toBe(String(summary.warnings.red))
          break
        case 'warnings': {
          const levels = await page.locator('[data-testid=wall-warning-list] li[data-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-level')))
          expect(levels.length).toBeGreaterThan(0)
          // Red first, then yellow.
          expect(levels.join(',')).toMatch(/^(red,)*(yellow,?)*$/)
          expect(levels.filter((l) => l === 'red').length).toBe(summary.warnings.red)
          // With the clock at start the warnings are of today: the days say so.
          expect(await page.locator('[data-testid=wall-warning-list] li[data-id] .wl-level').first().textContent()).toContain('今日转红')
          break
        }
        case 'problems': {
          await page.locator('[data-testid=wall-problem-list] li[data-problem]').first().waitFor()
          expect(await page.locator('[data-testid=problems-open]').textContent()).toContain(String(problems.length))
          // Grouped by the unit to act: every problem under its unit's heading.
          const lines = await page.locator('[data-testid=wall-problem-list] > li').evaluateAll((els) =>
            els.map((e) => (e.classList.contains('wl-unit-head') ? `#${e.getAttribute('data-unit')}` : e.getAttribute('data-unit'))),
          )
          let unit = ''
          for (const l of lines) {
            if (l?.startsWith('#')) unit = l.slice(1)
            else expect(l).toBe(unit)
          }
          // Overdue problems are marked (the clock says 8 November).
          expect(await page.locator('[data-testid=wall-problem-list] li.is-overdue').count()).toBeGreaterThan(0)
          expect(await page.locator('[data-testid=wall-problem-list] li.is-overdue .wl-due').first().textContent()).toMatch(/逾期 \d+ 天/)
          break
        }
        case 'units': {
          const units = await page.locator('[data-testid=wall-units] li[data-unit]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-unit'), e.getAttribute('data-light')]))
          expect(units.length).toBe(summary.byDepartment.length)
          // Worst first: red, then yellow, then green.
          const rank = { red: 0, yellow: 1, green: 2 } as Record<string, number>
          const order = units.map(([, l]) => rank[l!]!)
          expect(order).toEqual([...order].sort((a, b) => a - b))
          // A unit with a red project is red.
          for (const b of summary.byDepartment.filter((x) => x.red > 0)) expect(units.find(([u]) => u === b.key)?.[1]).toBe('red')
          // 开复工率 per unit as the server counts it for that unit alone.
          for (const [u] of units.slice(0, 4)) {
            const s = await admin.ok<Summary>('GET', `/api/summary?department=${encodeURIComponent(u!)}`)
            const row = page.locator(`[data-testid=wall-units] li[data-unit="${u}"]`)
            if (s.planned.startDue === 0) expect(await row.locator('[data-testid=unit-start-rate]').count()).toBe(0)
            else expect(await row.locator('[data-testid=unit-start-rate]').getAttribute('title')).toContain(`${s.planned.started} / 计划开复工 ${s.planned.startDue}`)
          }
          break
        }
      }
      expect(errors).toEqual([])
      await closeAll()
    }
  })

  it('rotates through its pages, letting a long list show all its sub-pages first', async () => {
    const { page, errors } = await newWall('pages=warnings,units&rotate=2')
    expect(await onPages(page)).toEqual(['warnings'])
    // The warnings do not fit 1080p: every sub-page shows before the units come.
    const pager = page.locator('[data-testid=warnings-pager]')
    await expect.poll(() => pager.textContent()).toMatch(/^1\/\d$/)
    const n = Number((await pager.textContent())!.split('/')[1])
    expect(n).toBeGreaterThan(1)
    await expect.poll(() => pager.textContent(), { timeout: 3000 * n }).toBe(`${n}/${n}`)
    expect(await shownPages(page)).toEqual(['warnings'])
    await expect.poll(() => shownPages(page), { timeout: 5000 }).toEqual(['units'])
    expect(await onPages(page)).toEqual(['units'])
    await expect.poll(() => shownPages(page), { timeout: 5000 }).toEqual(['warnings'])
    expect(errors).toEqual([])
    await closeAll()
  })

  it('uses the width of a wide wall: pages side by side, the overview staying in sight', { timeout: 120_000 }, async () => {
    const { page, errors } = await newWall('rotate=2', SHAPES[2])
    expect(await page.getAttribute('[data-testid=wall]', 'data-slots')).toBe('2')
    expect(await shownPages(page)).toEqual(['overview', 'warnings'])
    await expect.poll(() => shownPages(page), { timeout: 8000 }).toEqual(['overview', 'problems'])
    expect(await onPages(page)).toEqual(['overview', 'problems'])
    await closeAll()
    const wide = await newWall('rotate=0', SHAPES[3])
    expect(await shownPages(wide.page)).toEqual(['overview', 'warnings', 'problems'])
    expect(errors).toEqual([])
    expect(wide.errors).toEqual([])
    await closeAll()
  })
})

describe('any shape', () => {
  // Five screens, four pages each, a screenshot of each (4K and 48:9 ones are large): minutes.
  it('fills every screen without scroll bars, clipped text or text under 14 px at 1080p', { timeout: 600_000 }, async () => {
    for (const shape of SHAPES) {
      const { page, errors } = await newWall('rotate=0', shape)
      for (const name of PAGES) {
        await page.goto(`${server.base}/wall?token=${encodeURIComponent(token)}&rotate=0&shift=0&pages=${name}`)
        await page.locator(`.wall-slot[data-page=${name}]`).waitFor()
        if (name === 'problems') await page.locator('[data-testid=wall-problem-list] li[data-problem]').first().waitFor()
        // The news line's history comes a moment after the first picture.
        await page.locator('[data-testid=wall-ticker] .ticker-row').first().waitFor()
        await chartsDrawn(page)
        await expectFits(page, shape.height, `${name} at ${shape.name}`)
        await page.screenshot({ path: resolve(SHOTS, `wall-${name}-${shape.name}.png`) })
      }
      if (shape.name === '1080p') {
        // English words are longer: the same checks, no pictures (the choice is remembered, so last).
        for (const name of PAGES) {
          await page.goto(`${server.base}/wall?token=${encodeURIComponent(token)}&rotate=0&shift=0&lang=en&pages=${name}`)
          await page.locator(`.wall-slot[data-page=${name}]`).waitFor()
          if (name === 'problems') await page.locator('[data-testid=wall-problem-list] li[data-problem]').first().waitFor()
          await chartsDrawn(page)
          await expectFits(page, shape.height, `${name} at ${shape.name} in English`)
        }
      }
      if (shape.width / shape.height > 3) {
        // The wide walls' own picture: pages side by side.
        await page.goto(`${server.base}/wall?token=${encodeURIComponent(token)}&rotate=0&shift=0`)
        await page.locator('.wall-slot').nth(1).waitFor()
        await page.locator('[data-testid=wall-problem-list] li[data-problem], [data-testid=wall-warning-list] li[data-id]').first().waitFor()
        await chartsDrawn(page)
        await expectFits(page, shape.height, `side by side at ${shape.name}`)
        await page.screenshot({ path: resolve(SHOTS, `wall-rotation-${shape.name}.png`) })
      }
      expect(errors).toEqual([])
      await closeAll()
    }
  })
})

describe('live', () => {
  it('a project turning red reaches the 预警 page within a second, and the news line says so', async () => {
    const { page, errors } = await newWall('pages=warnings&rotate=0')
    const all = (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects
    // Under construction, green, due to complete after today: moving its planned completion
    // into the past makes it red (逾期未竣工).
    const target = all.find((p) => p.stage === 'under_construction' && p.warning.level === 'green' && (p.plannedCompletion ?? '') > '2022-12-31')!
    expect(target, 'a green project under construction').toBeTruthy()
    await page.evaluate((id) => {
      const g = window as unknown as { __shownAt?: number }
      const obs = new MutationObserver(() => {
        if (document.querySelector(`[data-testid=wall-warning-list] li[data-id="${id}"][data-level=red]`)) {
          g.__shownAt = Date.now()
          obs.disconnect()
        }
      })
      obs.observe(document.body, { childList: true, subtree: true, attributes: true })
    }, target.id)
    const t0 = Date.now()
    const after = await admin.ok<Project>('PATCH', `/api/projects/${encodeURIComponent(target.id)}`, { plannedCompletion: '2022-09-30', comment: '工期调整' }, { 'If-Match': `"${target.version}"` })
    expect(after.warning.level).toBe('red')
    const row = page.locator(`[data-testid=wall-warning-list] li[data-id="${target.id}"][data-level=red]`)
    await row.waitFor({ timeout: 2000 })
    const shownAt = await page.evaluate(() => (window as unknown as { __shownAt?: number }).__shownAt ?? Number.NaN)
    const elapsed = shownAt - t0
    console.log(`a project turned red: on the 预警 page ${elapsed} ms after the PATCH was sent`)
    expect(elapsed).toBeLessThan(1000)
    // Newest red first, with its reason on one line.
    expect(await page.locator('[data-testid=wall-warning-list] li[data-id]').first().getAttribute('data-id')).toBe(target.id)
    expect(await row.locator('.wl-reason').getAttribute('title')).toMatch(/计划 2022-09-30 竣工，逾期.*未竣工/)
    const news = page.locator('[data-testid=wall-ticker] .ticker-row').first()
    await expect.poll(() => news.getAttribute('data-tone')).toBe('red')
    expect(await news.textContent()).toContain(target.name)
    expect(await news.textContent()).toContain('转为红色预警')
    expect(errors).toEqual([])
    await closeAll()
  })

  it('the news line leaves routine edits out and shows problems raised and resolved', async () => {
    const { page, errors } = await newWall('pages=problems&rotate=0')
    const all = (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects
    const p = all.find((x) => x.category === 'planned' && x.stage === 'under_construction' && x.progress < 90)!
    // The news line fills from the change log after the first picture: wait until it holds still.
    const tickerRevs = () => page.locator('[data-testid=wall-ticker] .ticker-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-rev')).join(','))
    let seen = ''
    await expect
      .poll(async () => {
        const now = await tickerRevs()
        const still = now !== '' && now === seen
        seen = now
        return still
      }, { interval: 500 })
      .toBe(true)
    const rowsBefore = await page.locator('[data-testid=wall-ticker] .ticker-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-rev')))
    await admin.ok('PATCH', `/api/projects/${encodeURIComponent(p.id)}`, { progress: p.progress + 1 }, { 'If-Match': `"${p.version}"` })
    const routine = String((await admin.ok<{ rev: number }>('GET', '/api/meta')).rev)
    const pr = await admin.ok<Problem>('POST', `/api/projects/${encodeURIComponent(p.id)}/problems`, { description: '消防验收资料待补充', unit: '应急管理局', due: '2022-11-20' })
    const raisedRev = String((await admin.ok<{ rev: number }>('GET', '/api/meta')).rev)
    const news = page.locator('[data-testid=wall-ticker] .ticker-row').first()
    // The raised row by its revision: an older "raised" row from the history may lead before it comes.
    await expect.poll(() => news.getAttribute('data-rev')).toBe(raisedRev)
    expect(await news.getAttribute('data-tone')).toBe('raised')
    expect(await news.textContent()).toContain('消防验收资料待补充')
    // The routine edit between never showed.
    const revs = await page.locator('[data-testid=wall-ticker] .ticker-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-rev')))
    expect(revs).not.toContain(routine)
    expect(revs.slice(1)).toEqual(expect.arrayContaining(rowsBefore.slice(0, Math.min(rowsBefore.length, revs.length - 2))))
    // The problems page fetched the register again when the change came.
    await page.locator(`[data-testid=wall-problem-list] li[data-problem="${pr.id}"]`).waitFor({ timeout: 4000 })
    await admin.ok('PATCH', `/api/problems/${pr.id}`, { status: 'resolved', resolution: '资料已补齐' }, { 'If-Match': `"${pr.version}"` })
    await expect.poll(() => news.getAttribute('data-tone')).toBe('resolved')
    // Each change once, newest first (the history fetched after the first picture and the live
    // changes overlap; a change taken from both showed twice, and out of order).
    const shown = (await page.locator('[data-testid=wall-ticker] .ticker-row').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-rev')))))
    expect(new Set(shown).size).toBe(shown.length)
    expect(shown).toEqual([...shown].sort((a, b) => b - a))
    await page.locator(`[data-testid=wall-problem-list] li[data-problem="${pr.id}"]`).waitFor({ state: 'detached', timeout: 4000 })
    expect(errors).toEqual([])
    await closeAll()
  })
})

describe('a server that answers 503 for a moment', () => {
  it('the news line asks for its history again (an upgrade in place refuses reads of the file for a second or two)', async () => {
    // Something news-worthy in the history: a stage move.
    const all = (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects
    const p = all.find((x) => x.stage === 'negotiating')!
    await admin.ok('PATCH', `/api/projects/${encodeURIComponent(p.id)}`, { stage: 'signed', comment: '签约' }, { 'If-Match': `"${p.version}"` })
    const moved = (await admin.ok<{ rev: number }>('GET', '/api/meta')).rev
    // Then 25 routine edits, so that it is older than the live board's own 20 latest changes:
    // only the news line's history (its 100 latest) can bring it.
    const q = all.find((x) => x.stage === 'under_construction' && x.progress < 50)!
    let v = q.version
    for (let i = 1; i <= 25; i++) v = (await admin.ok<Project>('PATCH', `/api/projects/${encodeURIComponent(q.id)}`, { progress: q.progress + i }, { 'If-Match': `"${v}"` })).version
    let asked = 0
    const { page, errors } = await newWall('pages=overview&rotate=0', SHAPES[0], (page) =>
      // The news line's own request (its hundred latest changes), not the live board's.
      page.route(/\/api\/changes\?.*limit=100/, async (route) => {
        if (++asked > 1) return route.continue()
        await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ code: 'unavailable', message: 'the database is unavailable for a moment', field: '' }) })
      }),
    )
    await page.locator(`[data-testid=wall-ticker] .ticker-row[data-rev="${moved}"]`).waitFor({ timeout: 15_000 })
    expect(asked).toBe(2)
    expect(errors.filter((e) => !/status of 503/.test(e))).toEqual([])
    await closeAll()
  })
})

describe('narrowed to a unit', () => {
  it('shows only that unit’s projects, warnings, problems and figures, and says so', { timeout: 180_000 }, async () => {
    const all = (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects
    // The unit with the most warnings.
    const count = new Map<string, number>()
    for (const p of all) if (p.warning.level !== 'green') count.set(p.department, (count.get(p.department) ?? 0) + 1)
    const dept = [...count.entries()].sort((a, b) => b[1] - a[1])[0]![0]
    const mine = new Set(all.filter((p) => p.department === dept).map((p) => p.id))
    // One of its projects gets a problem another unit must act on, and one of another unit's
    // projects a problem it must act on: both are its business.
    const own = all.find((p) => p.department === dept && p.category !== 'attraction')!
    const other = all.find((p) => p.department !== dept && p.category !== 'attraction')!
    const p1 = await admin.ok<Problem>('POST', `/api/projects/${encodeURIComponent(own.id)}/problems`, { description: '规划条件待调整', unit: '自然资源局' })
    const p2 = await admin.ok<Problem>('POST', `/api/projects/${encodeURIComponent(other.id)}/problems`, { description: `需${dept}出具意见`, unit: dept })
    const q = `department=${encodeURIComponent(dept)}&rotate=0`
    const sum = await admin.ok<Summary>('GET', `/api/summary?department=${encodeURIComponent(dept)}`)

    const overview = await newWall(`${q}&pages=overview`)
    expect(await overview.page.locator('[data-testid=wall-narrowed]').textContent()).toBe(dept)
    await expect.poll(() => overview.page.locator('[data-kpi=planned] .num').textContent()).toBe(String(sum.planned.count))
    expect(await overview.page.locator('[data-testid=wall-warnings] [data-level=yellow] [data-testid=wall-warning-count]').textContent()).toBe(String(sum.warnings.yellow))
    // One unit: its warned projects instead of a table of one department.
    const listed = await overview.page.locator('[data-testid=wall-unit-warnings] li[data-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')!))
    expect(listed.length).toBe(Math.min(listed.length, sum.warnings.red + sum.warnings.yellow))
    expect(listed.length).toBeGreaterThan(0)
    for (const id of listed) expect(mine.has(id), `${id} is ${dept}'s`).toBe(true)
    await overview.page.screenshot({ path: resolve(SHOTS, 'wall-narrowed-overview.png') })

    // An edit of one of its projects moves its figures (the wall fetches them again). The
    // problems raised above moved some projects' versions: read them again.
    const now = (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects
    const mover = now.find((p) => p.department === dept && p.stage === 'under_construction' && p.category === 'planned')
    if (mover) {
      const before = Number(await overview.page.locator('[data-testid=stage-counts] [data-stage=completed] .sc-count').textContent())
      await admin.ok('PATCH', `/api/projects/${encodeURIComponent(mover.id)}`, { stage: 'completed', effectiveDate: '2022-11-08' }, { 'If-Match': `"${mover.version}"` })
      await expect.poll(() => overview.page.locator('[data-testid=stage-counts] [data-stage=completed] .sc-count').textContent(), { timeout: 4000 }).toBe(String(before + 1))
      // The news line has it; another unit's stage move does not show on this wall.
      const outsider = now.find((p) => p.department !== dept && p.stage === 'negotiating')!
      await admin.ok('PATCH', `/api/projects/${encodeURIComponent(outsider.id)}`, { stage: 'signed' }, { 'If-Match': `"${outsider.version}"` })
      await expect.poll(() => overview.page.locator('[data-testid=wall-ticker] .ticker-row').first().textContent()).toContain(mover.name)
      await sleep(1200)
      expect(await overview.page.locator('[data-testid=wall-ticker]').textContent()).not.toContain(outsider.name)
    }

    const warnings = await newWall(`${q}&pages=warnings`)
    const ids = await warnings.page.locator('[data-testid=wall-warning-list] li[data-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')!))
    expect(ids.length).toBeGreaterThan(0)
    for (const id of ids) expect(mine.has(id), `${id} is ${dept}'s`).toBe(true)

    const probs = await newWall(`${q}&pages=problems`)
    await probs.page.locator('[data-testid=wall-problem-list] li[data-problem]').first().waitFor()
    const shown = await probs.page.locator('[data-testid=wall-problem-list] li[data-problem]').evaluateAll((els) => els.map((e) => e.getAttribute('data-problem')!))
    const register = (await admin.ok<{ problems: Problem[] }>('GET', '/api/problems?open=1')).problems
    const expected = register.filter((p) => p.department === dept || p.unit === dept).map((p) => p.id)
    expect(new Set(shown)).toEqual(new Set(expected))
    expect(shown).toContain(p1.id)
    expect(shown).toContain(p2.id)

    const units = await newWall(`${q}&pages=units`)
    expect(await units.page.locator('[data-testid=wall-units] li[data-unit]').evaluateAll((els) => els.map((e) => e.getAttribute('data-unit')))).toEqual([dept])

    for (const w of [overview, warnings, probs, units]) expect(w.errors).toEqual([])
    await closeAll()
  })
})

describe('narrowed to a category', () => {
  it('shows only that category’s figures and projects', async () => {
    const sum = await admin.ok<Summary>('GET', '/api/summary?category=planned')
    const { page, errors } = await newWall('category=planned&rotate=0&pages=overview,warnings')
    expect(await page.locator('[data-testid=wall-narrowed]').textContent()).toBe('计划内重点')
    await expect.poll(() => page.locator('[data-kpi=planned] .num').textContent()).toBe(String(sum.planned.count))
    expect(await page.locator('[data-kpi=attraction] .num').textContent()).toBe('0')
    await closeAll()
    const w = await newWall('category=attraction&rotate=0&pages=warnings')
    // Attraction projects carry no warnings.
    expect(await w.page.locator('[data-testid=wall-warning-list] li[data-id]').count()).toBe(0)
    expect(await w.page.locator('[data-testid=wall-warning-list] .wl-none').count()).toBe(1)
    expect(errors).toEqual([])
    expect(w.errors).toEqual([])
    await closeAll()
  })
})

describe('months on', () => {
  it('shifts against burn-in by default, not with shift=0, and dims on its schedule', async () => {
    const on = await newWall('pages=warnings&rotate=0')
    expect(await on.page.locator('.wall-frame').getAttribute('style')).toMatch(/translate\(0px, 0px\)/)
    const off = await newWall('pages=warnings&rotate=0&shift=0')
    expect(await off.page.locator('.wall-frame').getAttribute('style')).toBeNull()
    // A window across midnight that holds every minute but one; and one that holds none now.
    const dim = await newWall('pages=warnings&rotate=0&dim=23:59-23:58&dimOpacity=0.6')
    expect(await dim.page.locator('[data-testid=wall-dim]').getAttribute('style')).toContain('opacity: 0.6')
    const hour = new Date().getHours()
    const away = `${String((hour + 3) % 24).padStart(2, '0')}:00-${String((hour + 4) % 24).padStart(2, '0')}:00`
    const day = await newWall(`pages=warnings&rotate=0&dim=${away}`)
    expect(await day.page.locator('[data-testid=wall-dim]').count()).toBe(0)
    for (const w of [on, off, dim, day]) expect(w.errors).toEqual([])
    await closeAll()
  })
})
