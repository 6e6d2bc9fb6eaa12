import { describe, expect, it } from 'vitest'
import type { Bucket, Change, Problem, Project } from '../src/api/types'
import {
  daysSince,
  inNarrowing,
  keepIfSame,
  pageLines,
  problemLines,
  shiftOffset,
  startPart,
  startTallies,
  tickerItemOf,
  touchesNarrowing,
  unitLight,
  unitRows,
  warningRows,
  type Narrowing,
} from '../src/wall/derive'
import en from '../src/i18n/en'
import zh from '../src/i18n/zh-CN'
import { framesFor, inDimWindow, parseDim, parsePages, parseWallOptions, slotsFor } from '../src/wall/options'
import { chunk, dwellFor, MIN_DWELL_MS } from '../src/wall/paging'
import { change, project } from './fixtures'

const ALL: Narrowing = { year: 2022, department: null, category: null }

describe('wall options', () => {
  it('reads the pages in the order given, ignores unknown names, defaults to all four', () => {
    expect(parsePages(null)).toEqual(['overview', 'warnings', 'problems', 'units'])
    expect(parsePages('warnings')).toEqual(['warnings'])
    expect(parsePages('units, nonsense,overview,units')).toEqual(['units', 'overview'])
    expect(parsePages('nonsense')).toEqual(['overview', 'warnings', 'problems', 'units'])
  })
  it('reads rotate, shift, dim, narrowing and slots', () => {
    const o = parseWallOptions({ pages: 'warnings,problems', rotate: '12', shift: '0', dim: '22:00-07:00', department: ' 教育局 ', category: 'planned', slots: '2' })
    expect(o).toMatchObject({ pages: ['warnings', 'problems'], rotateMs: 12_000, shift: false, dim: { from: 1320, to: 420 }, department: '教育局', category: 'planned', slots: 2 })
    const d = parseWallOptions({})
    expect(d).toMatchObject({ rotateMs: 30_000, shift: true, dim: null, department: null, category: null, slots: null, staleSeconds: 60 })
    expect(parseWallOptions({ rotate: '-3', category: 'nope', slots: '9' })).toMatchObject({ rotateMs: 30_000, category: null, slots: null })
    expect(parseWallOptions({ rotate: '0' }).rotateMs).toBe(0)
    expect(parseWallOptions({ rotate: ['5', '9'] }).rotateMs).toBe(5000)
  })
  it('dims across midnight and within a day', () => {
    expect(parseDim('7:30-9:00')).toEqual({ from: 450, to: 540 })
    expect(parseDim('22:00-22:00')).toBeNull()
    expect(parseDim('25:00-07:00')).toBeNull()
    expect(parseDim('soon')).toBeNull()
    const night = parseDim('22:00-07:00')
    expect(inDimWindow(night, 23 * 60)).toBe(true)
    expect(inDimWindow(night, 3 * 60)).toBe(true)
    expect(inDimWindow(night, 7 * 60)).toBe(false)
    expect(inDimWindow(night, 12 * 60)).toBe(false)
    expect(inDimWindow(night, 22 * 60)).toBe(true)
    const day = parseDim('12:00-13:30')
    expect(inDimWindow(day, 12 * 60 + 59)).toBe(true)
    expect(inDimWindow(day, 13 * 60 + 30)).toBe(false)
    expect(inDimWindow(null, 0)).toBe(false)
  })
  it('counts 16:9 areas side by side', () => {
    expect(slotsFor(1920, 1080)).toBe(1)
    expect(slotsFor(3840, 2160)).toBe(1)
    expect(slotsFor(1280, 720)).toBe(1)
    expect(slotsFor(2560, 1080)).toBe(1)
    expect(slotsFor(3840, 1080)).toBe(2)
    expect(slotsFor(5760, 1080)).toBe(3)
    expect(slotsFor(1080, 1920)).toBe(1)
  })
  it('keeps the overview in sight on wide walls and rotates the rest', () => {
    const four = ['overview', 'warnings', 'problems', 'units'] as const
    expect(framesFor(four, 1)).toEqual([['overview'], ['warnings'], ['problems'], ['units']])
    expect(framesFor(four, 2)).toEqual([['overview', 'warnings'], ['overview', 'problems'], ['overview', 'units']])
    expect(framesFor(four, 3)).toEqual([
      ['overview', 'warnings', 'problems'],
      ['overview', 'units', 'warnings'],
      ['overview', 'problems', 'units'],
    ])
    expect(framesFor(four, 4)).toEqual([[...four]])
    expect(framesFor(['warnings'], 3)).toEqual([['warnings']])
    expect(framesFor(['warnings', 'problems', 'units'], 2)).toEqual([
      ['warnings', 'problems'],
      ['units', 'warnings'],
      ['problems', 'units'],
    ])
  })
})

const red = (since: string, rule = 'notStarted' as const) => ({
  level: 'red' as const,
  since,
  reasons: [{ rule, level: 'red' as const, value: 3, threshold: 3, unit: 'months' }],
})
const yellow = (since: string) => ({
  level: 'yellow' as const,
  since,
  reasons: [{ rule: 'investmentPace' as const, level: 'yellow' as const, value: 12, threshold: 10, unit: 'points' }],
})

describe('the warnings page', () => {
  const ps: Project[] = [
    project('g', {}),
    project('y1', { warning: yellow('2022-11-01T02:00:00.123456789Z') }),
    project('r-old', { warning: red('2022-10-20T02:00:00Z'), department: '教育局' }),
    project('r-new', { warning: red('2022-11-07T17:00:00Z') }),
    project('r-2021', { warning: red('2022-11-07T17:00:00Z'), year: 2021 }),
  ]
  const text = (r: { rule: string }) => `reason ${r.rule}`
  it('lists red then yellow, newest first, with days at the level on the zone date', () => {
    const rows = warningRows(ps, ALL, '2022-11-08', text)
    expect(rows.map((r) => r.id)).toEqual(['r-new', 'r-old', 'y1'])
    // 17:00 UTC on the 7th is already the 8th in Changchun: 0 days.
    expect(rows.map((r) => r.days)).toEqual([0, 19, 7])
    expect(rows[0]).toMatchObject({ level: 'red', reason: 'reason notStarted', leader: '张三' })
  })
  it('narrows to a unit', () => {
    expect(warningRows(ps, { ...ALL, department: '教育局' }, '2022-11-08', text).map((r) => r.id)).toEqual(['r-old'])
    expect(inNarrowing(project('x', { category: 'attraction' }), { ...ALL, category: 'planned' })).toBe(false)
  })
  it('counts days from a nanosecond timestamp and knows when it does not know', () => {
    expect(daysSince('2022-11-01T02:00:00.123456789Z', '2022-11-08')).toBe(7)
    expect(daysSince(undefined, '2022-11-08')).toBeNull()
  })
})

describe('the units page', () => {
  it('counts 开复工 per unit as the server does', () => {
    // New, planned start in the year, started in it.
    expect(startPart(project('a', { stage: 'under_construction', startedAt: '2022-03-01', plannedStart: '2022-03-01' }))).toEqual({ due: true, started: true })
    // New, planned for next year, started early: above the line only.
    expect(startPart(project('b', { stage: 'under_construction', startedAt: '2022-05-01', plannedStart: '2023-02-01' }))).toEqual({ due: false, started: true })
    // Continuing (started 2021), restarted in 2022.
    expect(startPart(project('c', { stage: 'under_construction', startedAt: '2021-05-01', resumedAt: '2022-03-15' }))).toEqual({ due: true, started: true })
    // Continuing, completed in 2021: not due again.
    expect(startPart(project('d', { stage: 'completed', startedAt: '2020-05-01', completedAt: '2021-10-01' }))).toEqual({ due: false, started: false })
    // Back at 前期: the start stands but does not count.
    expect(startPart(project('e', { stage: 'preparing', startedAt: '2022-03-01' }))).toEqual({ due: true, started: false })
    // Unplanned projects are apart.
    expect(startPart(project('f', { category: 'unplanned', stage: 'under_construction', startedAt: '2022-03-01' }))).toEqual({ due: false, started: false })
    const t = startTallies([project('a', { stage: 'under_construction', startedAt: '2022-03-01' }), project('e', { department: '教育局' })], ALL)
    expect(Object.fromEntries(t)).toEqual({ 经发局: { started: 1, due: 1 }, 教育局: { started: 0, due: 1 } })
  })
  it('lights a unit red for a red project or far behind 序时进度, yellow for a yellow one or behind', () => {
    expect(unitLight({ red: 1, yellow: 0 }, 5)).toEqual({ light: 'red', why: ['redProject'] })
    expect(unitLight({ red: 0, yellow: 0 }, -30.5)).toEqual({ light: 'red', why: ['paceRed'] })
    expect(unitLight({ red: 0, yellow: 0 }, -30)).toEqual({ light: 'yellow', why: ['paceYellow'] })
    expect(unitLight({ red: 0, yellow: 2 }, -3)).toEqual({ light: 'yellow', why: ['yellowProject'] })
    expect(unitLight({ red: 0, yellow: 0 }, -9.9)).toEqual({ light: 'green', why: [] })
    expect(unitLight({ red: 0, yellow: 0 }, null)).toEqual({ light: 'green', why: [] })
    expect(unitLight({ red: 0, yellow: 0 }, -6, { yellow: 5, red: 20 }).light).toBe('yellow')
  })
  it('sorts the worst first and carries the report status', () => {
    const b = (key: string, over: Partial<Bucket>): Bucket => ({
      key, count: 3, investmentYuan: 0, annualPlanYuan: 100, investmentCompletedYuan: 90, started: 0, completed: 0, construction: 3, yellow: 0, red: 0, openProblems: 0, ...over,
    })
    const rows = unitRows(
      [b('甲', {}), b('乙', { red: 1 }), b('丙', { investmentCompletedYuan: 70 }), b('丁', { annualPlanYuan: 0, investmentCompletedYuan: 0 })],
      0.9,
      [{ department: '乙', projects: 3, submitted: 1, returned: 0, approved: 0, missing: 2, status: 'missing' }],
      new Map([['甲', { started: 2, due: 2 }]]),
    )
    expect(rows.map((r) => [r.department, r.light])).toEqual([['乙', 'red'], ['丙', 'yellow'], ['甲', 'green'], ['丁', 'green']])
    expect(rows[0]).toMatchObject({ report: 'missing', reportDone: 1, reportTotal: 3 })
    expect(rows[1]!.gapPoints).toBeCloseTo(-20)
    expect(rows[2]).toMatchObject({ startRate: 1, started: 2, startDue: 2 })
    expect(rows[3]).toMatchObject({ investmentRate: null, gapPoints: null, startRate: null, report: null })
  })
})

function problem(id: string, over: Partial<Problem> = {}): Problem {
  return {
    id, projectId: 'p1', projectName: '项目p1', department: '经发局', description: `问题${id}`, raisedBy: 'ed', raisedAt: '2022-11-01T02:00:00Z',
    unit: '经发局', leader: '李四', status: 'pending', due: '', resolution: '', resolvedAt: null, resolvedBy: '', version: 1,
    updatedAt: '2022-11-01T02:00:00Z', updatedBy: 'ed', history: [], ...over,
  }
}

describe('the problems page', () => {
  const list = [
    problem('Q1', { unit: '规划局', due: '2022-11-01' }),
    problem('Q2', { unit: '规划局', raisedAt: '2022-10-01T02:00:00Z' }),
    problem('Q3', {}),
    problem('Q4', { status: 'resolved' }),
    problem('Q5', { department: '教育局', unit: '教育局', status: 'coordinating', projectId: 'p2' }),
  ]
  it('groups open problems by the unit to act, overdue first', () => {
    const lines = problemLines(list, ALL, () => 'planned', '2022-11-08')
    expect(lines.map((l) => (l.kind === 'unit' ? `[${l.unit} ${l.open}/${l.overdue}]` : l.id))).toEqual(['[规划局 2/1]', 'Q1', 'Q2', '[教育局 1/0]', 'Q5', '[经发局 1/0]', 'Q3'])
    const q1 = lines[1]!
    expect(q1.kind === 'problem' && [q1.age, q1.overdueDays]).toEqual([7, 7])
  })
  it('keeps a unit’s own problems and those it must act on when narrowed', () => {
    const mine = problemLines(list, { ...ALL, department: '规划局' }, () => 'planned', '2022-11-08')
    expect(mine.filter((l) => l.kind === 'problem').map((l) => l.key)).toEqual(['Q1', 'Q2'])
    const byProject = problemLines(list, { ...ALL, department: '经发局' }, () => 'planned', '2022-11-08')
    expect(byProject.filter((l) => l.kind === 'problem').map((l) => l.key)).toEqual(['Q1', 'Q2', 'Q3'])
    const cat = problemLines(list, { ...ALL, category: 'planned' }, (id) => (id === 'p2' ? 'planned' : 'unplanned'), '2022-11-08')
    expect(cat.filter((l) => l.kind === 'problem').map((l) => l.key)).toEqual(['Q5'])
  })
  it('pages without ending on a heading, repeating the heading of a unit cut in two', () => {
    const lines = problemLines(list, ALL, () => 'planned', '2022-11-08')
    const pages = pageLines(lines, 3)
    const show = pages.map((p) => p.map((l) => (l.kind === 'unit' ? `[${l.unit}${l.continued ? '…' : ''}]` : l.id)))
    expect(show).toEqual([['[规划局]', 'Q1', 'Q2'], ['[教育局]', 'Q5'], ['[经发局]', 'Q3']])
    const pages2 = pageLines(lines, 2)
    expect(pages2.map((p) => p.map((l) => (l.kind === 'unit' ? `[${l.unit}${l.continued ? '…' : ''}]` : l.id)))).toEqual([
      ['[规划局]', 'Q1'],
      ['[规划局…]', 'Q2'],
      ['[教育局]', 'Q5'],
      ['[经发局]', 'Q3'],
    ])
    for (const p of pages2) expect(p.at(-1)!.kind).toBe('problem')
  })
})

describe('the ticker', () => {
  const held = { department: '经发局', category: 'planned' as const }
  it('keeps stage moves, red warnings, problems raised and resolved, projects created by a person', () => {
    expect(tickerItemOf(change(1, 'p1'), held)).toMatchObject({ tone: 'stage', from: 'preparing', to: 'under_construction', department: '经发局' })
    const toRed: Change = change(2, 'p1', { by: 'system', fields: { warning: { from: { level: 'yellow', reasons: [] }, to: { level: 'red', reasons: [{ rule: 'notStarted', level: 'red' }, { rule: 'investmentPace', level: 'yellow' }] } } } })
    expect(tickerItemOf(toRed, held)).toMatchObject({ tone: 'red', rules: ['notStarted'] })
    // As changes record a warning now: rule → level.
    const toRedBrief: Change = change(2, 'p1', { by: 'system', fields: { warning: { from: { level: 'yellow' }, to: { level: 'red', rules: { investmentPace: 'yellow', notStarted: 'red' } } } } })
    expect(tickerItemOf(toRedBrief, held)).toMatchObject({ tone: 'red', rules: ['notStarted'] })
    const raised = change(3, 'p1', { kind: 'problem', key: 'Q1', fields: { 'problem.description': { from: '', to: '用地未批' }, 'problem.status': { from: '', to: 'pending' }, openProblems: { from: 0, to: 1 } } })
    expect(tickerItemOf(raised, held)).toMatchObject({ tone: 'raised', text: '用地未批' })
    const resolved = change(4, 'p1', { kind: 'problem', fields: { 'problem.status': { from: 'coordinating', to: 'resolved' }, 'problem.resolution': { from: '', to: '已批复' } } })
    expect(tickerItemOf(resolved, held)).toMatchObject({ tone: 'resolved', text: '已批复' })
    const created = change(5, 'p9', { kind: 'create', by: 'admin', fields: { department: { from: '', to: '教育局' }, category: { from: '', to: 'attraction' } } })
    expect(tickerItemOf(created, undefined)).toMatchObject({ tone: 'created', department: '教育局', category: 'attraction' })
  })
  it('leaves out the bundled data, imports and routine edits', () => {
    expect(tickerItemOf(change(1, 'p1', { kind: 'create', by: 'system', comment: '导入数据集 jingyue-2022' }), held)).toBeNull()
    expect(tickerItemOf(change(1, 'p1', { kind: 'create', by: 'admin', comment: '导入 2023.xlsx' }), held)).toBeNull()
    expect(tickerItemOf(change(1, 'p1', { fields: { progress: { from: 10, to: 20 } } }), held)).toBeNull()
    const stillRed = change(1, 'p1', { fields: { warning: { from: { level: 'red', reasons: [] }, to: { level: 'red', reasons: [] } } } })
    expect(tickerItemOf(stillRed, held)).toBeNull()
    expect(tickerItemOf(change(1, 'p1', { fields: { warning: { from: { level: 'green' }, to: { level: 'yellow' } } } }), held)).toBeNull()
    expect(tickerItemOf(change(1, 'p1', { kind: 'problem', fields: { 'problem.due': { from: '', to: '2022-12-01' } } }), held)).toBeNull()
    expect(tickerItemOf(change(1, '', { kind: 'settings', fields: {} }), undefined)).toBeNull()
    expect(tickerItemOf(change(1, 'p1', { kind: 'report', fields: {} }), held)).toBeNull()
  })
})

describe('refreshing a narrowed wall', () => {
  const n: Narrowing = { year: 2022, department: '教育局', category: null }
  it('refetches for its unit, a unit change into or out of it, a month or the rules', () => {
    expect(touchesNarrowing(change(1, 'p1'), n, { department: '教育局', category: 'planned' }, false)).toBe(true)
    expect(touchesNarrowing(change(1, 'p1'), n, { department: '经发局', category: 'planned' }, false)).toBe(false)
    expect(touchesNarrowing(change(1, 'p1', { fields: { department: { from: '教育局', to: '经发局' } } }), n, { department: '经发局', category: 'planned' }, false)).toBe(true)
    expect(touchesNarrowing(change(1, 'p1', { kind: 'delete' }), n, undefined, true)).toBe(true)
    expect(touchesNarrowing(change(1, '', { kind: 'month' }), n, undefined, false)).toBe(true)
    expect(touchesNarrowing(change(1, '', { kind: 'settings' }), n, undefined, false)).toBe(true)
  })
})

describe('burn-in and render economy', () => {
  it('moves a pixel at a time within ±2 px and comes back', () => {
    let prev = shiftOffset(0)
    const seen = new Set<string>()
    for (let k = 1; k <= 16; k++) {
      const o = shiftOffset(k)
      expect(Math.abs(o.x - prev.x) + Math.abs(o.y - prev.y)).toBe(1)
      expect(Math.max(Math.abs(o.x), Math.abs(o.y))).toBeLessThanOrEqual(2)
      seen.add(`${o.x},${o.y}`)
      prev = o
    }
    expect(shiftOffset(16)).toEqual(shiftOffset(0))
    expect(seen.size).toBe(16)
  })
  it('keeps the previous value when nothing but the ignored keys changed', () => {
    const a = { rev: 1, total: { count: 3 } }
    const b = { rev: 2, total: { count: 3 } }
    const c = { rev: 3, total: { count: 4 } }
    expect(keepIfSame(a, b, ['rev'])).toBe(a)
    expect(keepIfSame(a, c, ['rev'])).toBe(c)
    expect(keepIfSame([1, 2], [1, 2])).toEqual([1, 2])
    const arr = [1, 2]
    expect(keepIfSame(arr, [1, 2])).toBe(arr)
  })
})

describe('sub-pages', () => {
  it('share the page’s time, at least MIN_DWELL_MS each, and never turn without rotation', () => {
    expect(dwellFor(1, 30_000)).toBe(0)
    expect(dwellFor(3, 30_000)).toBe(10_000)
    expect(dwellFor(10, 30_000)).toBe(MIN_DWELL_MS)
    expect(dwellFor(3, 0)).toBe(0)
    // A rotation shorter than the minimum (tests, demos): a sub-page stays as long as a page.
    expect(dwellFor(4, 2000)).toBe(2000)
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]])
    expect(chunk([], 4)).toEqual([[]])
  })
})

describe('the wall’s words', () => {
  const lookup = (messages: unknown, key: string): unknown =>
    key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), messages)
  it('has every key it builds at run time, in Chinese and English', () => {
    const keys = [
      ...['overview', 'warnings', 'problems', 'units'].map((p) => `wall.page.${p}`),
      ...['red', 'yellow', 'green'].map((l) => `wall.units.light.${l}`),
      ...['redProject', 'yellowProject', 'paceRed', 'paceYellow'].map((w) => `wall.units.why.${w}`),
      ...['created', 'stage', 'red', 'redBare', 'raised', 'resolved', 'system'].map((k) => `wall.ticker.${k}`),
    ]
    for (const k of keys) {
      expect(typeof lookup(zh, k), `zh-CN ${k}`).toBe('string')
      expect(typeof lookup(en, k), `en ${k}`).toBe('string')
    }
  })
})
