// What the wall's pages show, computed from the live state in one pass per refresh. Pure: no
// Vue, no I/O; test/wall.test.ts drives every function here.
import {
  STAGES,
  type Bucket,
  type Category,
  type Change,
  type Problem,
  type Project,
  type Stage,
  type UnitReport,
  type WarningLevel,
  type WarningReason,
  type WarningRule,
} from '../api/types'
import { levelRank, warningOf } from '../cycle/months'
import { LIGHT_THRESHOLDS, ratio } from '../format'
import type { ProblemLine, TickerItem, UnitLight, UnitRow, WarningRow } from './types'

/** Which projects a wall shows: its year, and the unit or category its URL narrows it to. */
export interface Narrowing {
  year: number | null
  department: string | null
  category: Category | null
}

export function inNarrowing(p: Pick<Project, 'year' | 'department' | 'category'>, n: Narrowing): boolean {
  return (n.year === null || p.year === n.year) && (n.department === null || p.department === n.department) && (n.category === null || p.category === n.category)
}

const DAY_MS = 86_400_000

/** An RFC 3339 instant in ms; Go writes nanoseconds, Date.parse takes milliseconds at most. 0 if unreadable. */
export function instantMs(s: string | null | undefined): number {
  if (!s) return 0
  const t = Date.parse(s.replace(/(\.\d{3})\d+/, '$1'))
  return Number.isNaN(t) ? 0 : t
}

/** Whole calendar days (zone time) from a date "YYYY-MM-DD" to today's, never negative. */
export function daysBetween(from: string, today: string): number {
  const a = Date.parse(`${from}T00:00:00+08:00`)
  const b = Date.parse(`${today}T00:00:00+08:00`)
  if (Number.isNaN(a) || Number.isNaN(b)) return 0
  return Math.max(0, Math.round((b - a) / DAY_MS))
}

/** Asia/Shanghai is UTC+8 all year (no daylight saving since 1991). */
const ZONE_OFFSET_MS = 8 * 3_600_000

/**
 * The zone's date of an instant, YYYY-MM-DD, by arithmetic: format.ts's zoneToday builds an
 * Intl.DateTimeFormat per call, which the wall cannot afford for every row twice a second.
 */
export function zoneDateOf(ms: number): string {
  return new Date(ms + ZONE_OFFSET_MS).toISOString().slice(0, 10)
}

/** Calendar days since an instant, counted in the zone's dates: "红 12 天" is 12 dates later. */
export function daysSince(instant: string | null | undefined, today: string): number | null {
  const t = instantMs(instant)
  if (t === 0) return null
  return daysBetween(zoneDateOf(t), today)
}

/**
 * The 预警 page: red projects, then yellow, each group newest first (when it reached its
 * level), then the larger investment. `text` writes a reason in the wall's language.
 */
export function warningRows(projects: Iterable<Project>, n: Narrowing, today: string, text: (r: WarningReason, p: Project) => string): WarningRow[] {
  const rows: (WarningRow & { invest: number })[] = []
  for (const p of projects) {
    if (!inNarrowing(p, n)) continue
    const w = warningOf(p)
    if (w.level === 'green') continue
    const own = w.reasons.filter((r) => r.level === w.level)
    const first = own[0] ?? w.reasons[0]
    rows.push({
      id: p.id,
      name: p.name,
      department: p.department,
      leader: p.leader,
      level: w.level,
      reason: first ? text(first, p) : '',
      reasons: w.reasons.map((r) => text(r, p)).join('\n'),
      since: instantMs(w.since),
      days: daysSince(w.since, today),
      invest: p.investmentYuan,
    })
  }
  rows.sort((a, b) => levelRank(b.level) - levelRank(a.level) || b.since - a.since || b.invest - a.invest || a.id.localeCompare(b.id))
  return rows.map(({ invest: _invest, ...r }) => r)
}

// ---- 开复工率 per unit --------------------------------------------------------------------

const STAGE_INDEX = new Map<Stage, number>(STAGES.map((s, i) => [s, i]))
const startedStage = (s: Stage) => (STAGE_INDEX.get(s) ?? 0) >= STAGE_INDEX.get('under_construction')!
const completedStage = (s: Stage) => (STAGE_INDEX.get(s) ?? 0) >= STAGE_INDEX.get('completed')!
const yearOf = (d: string | null) => (d && d.length >= 4 ? Number(d.slice(0, 4)) : 0)

/**
 * A planned project's part in 开复工率 of its own year, as the server counts it (store/summary.go
 * rateFlags, docs/metrics.md "开复工率"): due (计划新开工 or 计划复工) and started (新开工 or 续建复工).
 * The summary carries the rate for the zone only; the 责任单位 page needs it per unit.
 */
export function startPart(p: Project): { due: boolean; started: boolean } {
  if (p.category !== 'planned') return { due: false, started: false }
  const y = p.year
  const continuing = !!p.startedAt && yearOf(p.startedAt) < y
  if (continuing) {
    const completedBefore = completedStage(p.stage) && !!p.completedAt && yearOf(p.completedAt) < y
    return { due: !completedBefore, started: startedStage(p.stage) && yearOf(p.resumedAt) === y }
  }
  return { due: !p.plannedStart || yearOf(p.plannedStart) <= y, started: startedStage(p.stage) && yearOf(p.startedAt) === y }
}

/** started / due of planned projects, per unit. */
export function startTallies(projects: Iterable<Project>, n: Narrowing): Map<string, { started: number; due: number }> {
  const out = new Map<string, { started: number; due: number }>()
  for (const p of projects) {
    if (!inNarrowing(p, n)) continue
    const part = startPart(p)
    if (!part.due && !part.started) continue
    const t = out.get(p.department) ?? { started: 0, due: 0 }
    if (part.due) t.due++
    if (part.started) t.started++
    out.set(p.department, t)
  }
  return out
}

/** Points behind 序时进度 at which a unit turns yellow and red (the investmentPace rule's). */
export interface PaceThresholds {
  yellow: number
  red: number
}

/**
 * A unit's light (docs/metrics.md, "Wall traffic light"): red if any of its projects is red or
 * its 投资完成率 is more than `red` points behind 序时进度; yellow if any project is yellow or it
 * is at least `yellow` points behind; else green.
 */
export function unitLight(b: Pick<Bucket, 'red' | 'yellow'>, gapPoints: number | null, t: PaceThresholds = LIGHT_THRESHOLDS): { light: UnitLight; why: UnitRow['why'] } {
  const why: UnitRow['why'] = []
  if (b.red > 0) why.push('redProject')
  if (gapPoints !== null && -gapPoints > t.red) why.push('paceRed')
  if (why.length > 0) return { light: 'red', why }
  if (b.yellow > 0) why.push('yellowProject')
  if (gapPoints !== null && -gapPoints >= t.yellow) why.push('paceYellow')
  return { light: why.length > 0 ? 'yellow' : 'green', why }
}

const LIGHT_RANK: Record<UnitLight, number> = { red: 2, yellow: 1, green: 0 }

/** The 责任单位 page: worst light first, then the furthest behind 序时进度, then the most projects. */
export function unitRows(
  buckets: readonly Bucket[],
  elapsedShare: number,
  reports: readonly UnitReport[] | null,
  starts: Map<string, { started: number; due: number }>,
  t?: PaceThresholds,
): UnitRow[] {
  const byUnit = new Map((reports ?? []).map((u) => [u.department, u]))
  const rows = buckets.map((b): UnitRow => {
    const rate = b.annualPlanYuan > 0 ? ratio(b.investmentCompletedYuan, b.annualPlanYuan) : null
    const gap = rate === null ? null : (rate - elapsedShare) * 100
    const s = starts.get(b.key) ?? { started: 0, due: 0 }
    const rep = byUnit.get(b.key) ?? null
    const { light, why } = unitLight(b, gap, t)
    return {
      department: b.key,
      projects: b.count,
      started: s.started,
      startDue: s.due,
      startRate: s.due > 0 ? s.started / s.due : null,
      annualPlanYuan: b.annualPlanYuan,
      completedYuan: b.investmentCompletedYuan,
      investmentRate: rate,
      gapPoints: gap,
      red: b.red ?? 0,
      yellow: b.yellow ?? 0,
      openProblems: b.openProblems ?? 0,
      report: rep ? rep.status : null,
      reportDone: rep ? rep.projects - rep.missing : 0,
      reportTotal: rep ? rep.projects : 0,
      light,
      why,
      pace: t ?? LIGHT_THRESHOLDS,
    }
  })
  return rows.sort(
    (a, b) =>
      LIGHT_RANK[b.light] - LIGHT_RANK[a.light] ||
      (a.gapPoints ?? Infinity) - (b.gapPoints ?? Infinity) ||
      b.projects - a.projects ||
      a.department.localeCompare(b.department, 'zh-CN'),
  )
}

// ---- 问题台账 -----------------------------------------------------------------------------

/**
 * Open problems grouped by the unit that must act: the units with the most overdue first, and
 * in each the overdue ones first, then the oldest. A narrowed wall keeps the problems of its
 * unit's projects and those its unit must act on.
 */
export function problemLines(problems: readonly Problem[], n: Narrowing, categoryOf: (projectId: string) => Category | undefined, today: string): ProblemLine[] {
  const groups = new Map<string, Extract<ProblemLine, { kind: 'problem' }>[]>()
  for (const p of problems) {
    if (p.status === 'resolved') continue
    if (n.department !== null && p.department !== n.department && p.unit !== n.department) continue
    if (n.category !== null && categoryOf(p.projectId) !== n.category) continue
    const unit = p.unit || p.department
    const overdue = p.due !== '' && p.due < today ? daysBetween(p.due, today) : 0
    const list = groups.get(unit) ?? []
    list.push({
      kind: 'problem',
      key: p.id,
      id: p.id,
      unit,
      projectName: p.projectName,
      description: p.description,
      leader: p.leader,
      status: p.status,
      age: daysSince(p.raisedAt, today) ?? 0,
      due: p.due,
      overdueDays: overdue,
    })
    groups.set(unit, list)
  }
  const ordered = [...groups.entries()].map(([unit, list]) => {
    list.sort((a, b) => (b.overdueDays > 0 ? 1 : 0) - (a.overdueDays > 0 ? 1 : 0) || b.age - a.age || a.id.localeCompare(b.id))
    return { unit, list, overdue: list.filter((x) => x.overdueDays > 0).length }
  })
  ordered.sort((a, b) => b.overdue - a.overdue || b.list.length - a.list.length || a.unit.localeCompare(b.unit, 'zh-CN'))
  const out: ProblemLine[] = []
  for (const g of ordered) {
    out.push({ kind: 'unit', key: `u:${g.unit}`, unit: g.unit, open: g.list.length, overdue: g.overdue, continued: false })
    out.push(...g.list)
  }
  return out
}

/**
 * Cuts the lines into pages of at most `size`: a page never ends with a unit's heading, and a
 * page that starts inside a unit repeats its heading (marked continued).
 */
export function pageLines(lines: readonly ProblemLine[], size: number): ProblemLine[][] {
  const per = Math.max(2, Math.floor(size))
  const pages: ProblemLine[][] = []
  let cur: ProblemLine[] = []
  let heading: Extract<ProblemLine, { kind: 'unit' }> | null = null
  for (const line of lines) {
    if (line.kind === 'unit') heading = line
    const full = cur.length >= per || (line.kind === 'unit' && cur.length >= per - 1)
    if (full) {
      pages.push(cur)
      cur = []
      if (line.kind === 'problem' && heading) cur.push({ ...heading, key: `${heading.key}:${pages.length}`, continued: true })
    }
    cur.push(line)
  }
  if (cur.length > 0) pages.push(cur)
  return pages
}

// ---- the ticker ---------------------------------------------------------------------------

/** The actor of the store's own changes (warnings on the clock, the bundled data). */
export const SYSTEM_ACTOR = 'system'

function levelOf(v: unknown): WarningLevel | '' {
  const l = typeof v === 'object' && v !== null ? (v as { level?: unknown }).level : undefined
  return l === 'red' || l === 'yellow' || l === 'green' ? l : ''
}

/**
 * The rules that gave red, from a change's record of a warning: `rules` (rule → level), or, in
 * changes recorded before it, `reasons` ([{rule, level}]).
 */
function redRules(v: unknown): WarningRule[] {
  if (typeof v !== 'object' || v === null) return []
  const byRule = (v as { rules?: unknown }).rules
  if (typeof byRule === 'object' && byRule !== null) {
    return Object.entries(byRule).filter(([, level]) => level === 'red').map(([rule]) => rule as WarningRule)
  }
  const rs = (v as { reasons?: unknown }).reasons
  if (!Array.isArray(rs)) return []
  return rs.filter((r): r is { rule: WarningRule; level: string } => typeof r === 'object' && r !== null && (r as { level?: unknown }).level === 'red').map((r) => r.rule)
}

/**
 * A change a leader cares about, as a ticker line, or null: a project created by a person (not
 * the bundled data, not an import), a stage move, a project turning red, a problem raised or
 * resolved. Routine edits (progress, amounts, notes), reports and settings are not news.
 * `project` is the project as held now (for its unit and category).
 */
export function tickerItemOf(c: Change, project: Pick<Project, 'department' | 'category'> | undefined): TickerItem | null {
  const base = {
    rev: c.rev,
    at: c.at,
    projectId: c.projectId,
    projectName: c.projectName,
    department: project?.department ?? '',
    category: project?.category ?? ('' as const),
    by: c.by,
  }
  const f = c.fields ?? {}
  switch (c.kind) {
    case 'create': {
      if (c.by === SYSTEM_ACTOR || c.comment.startsWith('导入')) return null
      const dept = f.department?.to
      const cat = f.category?.to
      return {
        ...base,
        department: base.department || (typeof dept === 'string' ? dept : ''),
        category: base.category || (typeof cat === 'string' ? (cat as Category) : ''),
        tone: 'created',
      }
    }
    case 'update': {
      const stage = f.stage
      if (stage && typeof stage.to === 'string' && stage.from !== stage.to) {
        return { ...base, tone: 'stage', from: typeof stage.from === 'string' ? stage.from : '', to: stage.to }
      }
      const w = f.warning
      if (w && levelOf(w.to) === 'red' && levelOf(w.from) !== 'red') return { ...base, tone: 'red', rules: redRules(w.to) }
      return null
    }
    case 'problem': {
      const status = f['problem.status']
      if (status && status.to === 'resolved') {
        const res = f['problem.resolution']?.to
        return { ...base, tone: 'resolved', text: typeof res === 'string' ? res : '' }
      }
      const desc = f['problem.description']
      if (desc && (desc.from === '' || desc.from === null || desc.from === undefined)) {
        return { ...base, tone: 'raised', text: typeof desc.to === 'string' ? desc.to : '' }
      }
      return null
    }
    default:
      return null
  }
}

// ---- refresh decisions --------------------------------------------------------------------

/** Does this change move the figures of a wall narrowed to a unit or a category? */
export function touchesNarrowing(c: Change, n: Narrowing, held: Pick<Project, 'department' | 'category'> | undefined, wasShown: boolean): boolean {
  if (c.kind === 'month' || c.kind === 'settings') return true
  if (wasShown) return true
  if (held && (n.department === null || held.department === n.department) && (n.category === null || held.category === n.category)) return true
  const f = c.fields ?? {}
  if (n.department !== null && (f.department?.from === n.department || f.department?.to === n.department)) return true
  if (n.category !== null && (f.category?.from === n.category || f.category?.to === n.category)) return true
  return false
}

// ---- burn-in protection -------------------------------------------------------------------

/**
 * The layout's offset at step k of the burn-in cycle: 16 steps around a square of ±2 px (a
 * travel of 4 px each way), one pixel per step, so the move itself is invisible.
 */
export function shiftOffset(k: number): { x: number; y: number } {
  const PATH: readonly [number, number][] = [
    [0, 0], [1, 0], [2, 0], [2, 1], [2, 2], [1, 2], [0, 2], [-1, 2],
    [-2, 2], [-2, 1], [-2, 0], [-2, -1], [-2, -2], [-1, -2], [0, -2], [0, -1],
  ]
  const [x, y] = PATH[((k % PATH.length) + PATH.length) % PATH.length]!
  return { x, y }
}

// ---- keeping what did not change ----------------------------------------------------------

/**
 * The previous value when the next one is the same in JSON (top-level keys named in `ignore`
 * left out): a component given the same object does not render again.
 */
export function keepIfSame<T>(prev: T, next: T, ignore: readonly string[] = []): T {
  if (prev === next || prev === null || next === null) return next
  const key = (v: T): string => {
    if (ignore.length === 0 || typeof v !== 'object' || Array.isArray(v)) return JSON.stringify(v)
    const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) }
    for (const k of ignore) delete copy[k]
    return JSON.stringify(copy)
  }
  return key(prev) === key(next) ? prev : next
}
