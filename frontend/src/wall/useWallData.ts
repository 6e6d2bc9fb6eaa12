// The wall's view of the live state. The live module changes its state on every change of the
// feed (ten a second under load); the wall takes a copy at most every REFRESH_MS and computes
// each page's rows once per copy. A list or figure that came out the same keeps its previous
// object, so its component does not render again. What the feed does not carry (a narrowed
// unit's figures, the problems register, the warning rules) is fetched over HTTP when a change
// that concerns it arrives, throttled.
import { onBeforeUnmount, ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import { api, cycle } from '../api/client'
import type { Change, Problem, Project, Summary, WarningReason } from '../api/types'
import { board, lastUpdate, projects, summary as liveSummary } from '../live'
import { inNarrowing, keepIfSame, zoneDateOf, problemLines, startTallies, tickerItemOf, touchesNarrowing, unitRows, warningRows, type Narrowing, type PaceThresholds } from './derive'
import type { ProblemLine, TickerItem, UnitRow, WallOptions, WallPage, WarningRow } from './types'

/** At most one copy of the live state per this many ms: a warning turning red shows within it. */
export const REFRESH_MS = 500
/** A narrowed wall fetches its unit's figures at most this often. */
export const SUMMARY_REFETCH_MS = 1000
/** The problems register is fetched at most this often, and only while its page shows. */
export const PROBLEMS_REFETCH_MS = 2000
/** Ticker lines kept (the ticker shows as many as fit). */
export const TICKER_KEEP = 12
/** Changes read back on start, so that the ticker has news after a reload. */
const SEED_CHANGES = 100
/** How often the server's clock is asked again (it may be moved with --clock). */
const CLOCK_EVERY_MS = 6 * 3_600_000
/** How often the date is checked (days at a level, overdue problems). */
const DATE_EVERY_MS = 60_000
/** What the first picture does not need (the ticker's history, the problems, the rules) waits this long after it. */
const EXTRAS_AFTER_MS = 1500
/** Asking again after a failed one-off fetch: 2 s, doubling, at most a minute apart. */
const RETRY_FIRST_MS = 2000
const RETRY_MAX_MS = 60_000

export interface WallData {
  /** The figures of the wall: the zone's, or the narrowed unit's or category's. */
  summary: ShallowRef<Summary | null>
  warnings: ShallowRef<WarningRow[]>
  units: ShallowRef<UnitRow[]>
  problems: ShallowRef<ProblemLine[]>
  problemsLoaded: Ref<boolean>
  /** Newest first, narrowed like everything else. */
  ticker: ShallowRef<TickerItem[]>
  /** When the data was last brought up to date (ms), as of the last copy. */
  updatedAt: Ref<number | null>
  /** The server's date, YYYY-MM-DD in the zone's time. */
  today: Ref<string>
  /** News after this revision arrived while the wall was up (they flash once). */
  freshAfter: Ref<number>
}

export function useWallData(
  o: WallOptions,
  visible: Ref<readonly WallPage[]>,
  reason: (r: WarningReason, p: Project) => string,
): WallData {
  const narrowed = o.department !== null || o.category !== null
  const out: WallData = {
    summary: shallowRef(null),
    warnings: shallowRef([]),
    units: shallowRef([]),
    problems: shallowRef([]),
    problemsLoaded: ref(false),
    ticker: shallowRef([]),
    updatedAt: ref(null),
    today: ref(zoneDateOf(Date.now())),
    freshAfter: ref(Number.MAX_SAFE_INTEGER),
  }
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let stopped = false
  /**
   * How long to wait before asking again for something fetched once (the rules, the news
   * line's history) after the n-th failure: a server in the middle of an upgrade in place
   * answers 503 for a second or two; a wall that gave up would miss it until reloaded.
   */
  function retryAfter(n: number): number {
    return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** n)
  }
  function later(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
    const id = setTimeout(() => {
      timers.delete(id)
      fn()
    }, ms)
    timers.add(id)
    return id
  }

  // ---- the server's clock ----
  let offsetMs = 0
  function askClock(): void {
    api.meta().then(
      (m) => {
        const t = m.now ? Date.parse(m.now) : Number.NaN
        offsetMs = Number.isNaN(t) ? 0 : t - Date.now()
        checkDate()
      },
      () => undefined,
    )
  }
  function checkDate(): void {
    const d = zoneDateOf(Date.now() + offsetMs)
    if (d !== out.today.value) {
      out.today.value = d
      schedule()
    }
  }
  askClock()
  const clockTimer = setInterval(askClock, CLOCK_EVERY_MS)
  const dateTimer = setInterval(checkDate, DATE_EVERY_MS)

  // ---- fetched: a narrowed unit's figures ----
  const narrowedSummary = shallowRef<Summary | null>(null)
  let sumTimer: ReturnType<typeof setTimeout> | null = null
  let sumInFlight = false
  let sumAgain = false
  let sumFailed = false
  let lastSumFetch = 0
  function wantSummary(): void {
    if (!narrowed || stopped) return
    if (sumInFlight) {
      sumAgain = true
      return
    }
    if (sumTimer !== null) return
    sumTimer = later(fetchSummary, Math.max(0, SUMMARY_REFETCH_MS - (Date.now() - lastSumFetch)))
  }
  function fetchSummary(): void {
    sumTimer = null
    sumInFlight = true
    lastSumFetch = Date.now()
    api
      .summary({ department: o.department, category: o.category, year: liveSummary.value?.year ?? null })
      .then(
        (s) => {
          sumFailed = false
          if (!narrowedSummary.value || s.rev >= narrowedSummary.value.rev) narrowedSummary.value = s
          schedule()
        },
        () => {
          sumFailed = true // asked again with the next change or reconnect
        },
      )
      .finally(() => {
        sumInFlight = false
        if (sumAgain) {
          sumAgain = false
          wantSummary()
        }
      })
  }

  // ---- fetched: the open problems ----
  const wantProblems = o.pages.includes('problems')
  let problemsRaw: Problem[] | null = null
  let problemsDirty = true
  let problemsTimer: ReturnType<typeof setTimeout> | null = null
  let problemsInFlight = false
  let lastProblemsFetch = 0
  function maybeFetchProblems(): void {
    if (!wantProblems || stopped || !extras || !problemsDirty || problemsTimer !== null || problemsInFlight) return
    // The first list is fetched at once, so the page has it when it first shows; later ones
    // only while the page shows.
    if (problemsRaw !== null && !visible.value.includes('problems')) return
    if (!board.value.loaded) return
    problemsTimer = later(fetchProblems, Math.max(0, PROBLEMS_REFETCH_MS - (Date.now() - lastProblemsFetch)))
  }
  function fetchProblems(): void {
    problemsTimer = null
    problemsDirty = false
    problemsInFlight = true
    lastProblemsFetch = Date.now()
    cycle
      .problems({ open: true, year: liveSummary.value?.year ?? null })
      .then(
        (r) => {
          problemsRaw = r.problems
          out.problemsLoaded.value = true
          schedule()
        },
        () => {
          problemsDirty = true
        },
      )
      .finally(() => {
        problemsInFlight = false
        maybeFetchProblems()
      })
  }
  watch(visible, maybeFetchProblems)

  // ---- fetched: the warning rules' pace thresholds (the units' lights) ----
  let thresholds: PaceThresholds | undefined
  function fetchRules(failures = 0): void {
    if (!o.pages.includes('units') || stopped) return
    cycle.warningRules().then(
      (r) => {
        thresholds = r.investmentPace.enabled ? { yellow: r.investmentPace.yellowPoints, red: r.investmentPace.redPoints } : undefined
        schedule()
      },
      () => {
        if (!stopped) later(() => fetchRules(failures + 1), retryAfter(failures))
      },
    )
  }

  // ---- after the first picture ----
  let extras = false
  let extrasTimer: ReturnType<typeof setTimeout> | null = null
  function startExtras(): void {
    extras = true
    fetchRules()
    const b = board.value
    if (b.rev > 0) {
      const byId = new Map(projects.value.map((p) => [p.id, p]))
      seedTicker(b.rev, (id) => byId.get(id))
    }
    maybeFetchProblems()
  }

  // ---- the ticker: news kept in a ring of its own (the live ticker holds routine edits too) ----
  let ring: TickerItem[] = []
  let ringChanged = true
  let tickerRev = 0
  let epoch = ''
  function seedTicker(rev: number, lookup: (id: string) => Project | undefined, failures = 0): void {
    api.changes(Math.max(0, rev - SEED_CHANGES), SEED_CHANGES).then(
      (changes) => {
        const have = new Set(ring.map((i) => i.rev))
        const add: TickerItem[] = []
        for (const c of changes) {
          if (have.has(c.rev)) continue
          const item = tickerItemOf(c, lookup(c.projectId))
          if (item) add.push(item)
        }
        if (add.length === 0) return
        ring = [...add, ...ring].sort((a, b) => a.rev - b.rev).slice(-TICKER_KEEP)
        ringChanged = true
        schedule()
      },
      () => {
        if (!stopped) later(() => seedTicker(rev, lookup, failures + 1), retryAfter(failures))
      },
    )
  }

  // ---- the copy ----
  let refreshTimer: ReturnType<typeof setTimeout> | null = null
  let lastRefresh = 0
  let snapshotRev = -1
  let year: number | null = null
  let shown = new Set<string>()
  function schedule(): void {
    if (refreshTimer !== null || stopped) return
    refreshTimer = later(refresh, Math.max(0, REFRESH_MS - (Date.now() - lastRefresh)))
  }

  function refresh(): void {
    refreshTimer = null
    lastRefresh = Date.now()
    const b = board.value
    if (!b.loaded) return
    const live = liveSummary.value
    const list = projects.value
    let byId: Map<string, Project> | null = null
    const lookup = (id: string): Project | undefined => {
      if (!byId) byId = new Map(list.map((p) => [p.id, p]))
      return byId.get(id)
    }
    const n: Narrowing = { year: live?.year ?? null, department: o.department, category: o.category }

    if (b.epoch !== epoch) {
      // Another database: the news of the old one go.
      epoch = b.epoch
      ring = []
      ringChanged = true
      tickerRev = 0
      out.freshAfter.value = b.rev
    }
    if ((live?.year ?? null) !== year) {
      // Another year's lists (the office started a year): its problems are another register.
      year = live?.year ?? null
      problemsDirty = true
      wantSummary()
    }
    if (b.snapshotRev !== snapshotRev) {
      // A (re)connect with a snapshot: anything may have changed meanwhile.
      snapshotRev = b.snapshotRev
      wantSummary()
      problemsDirty = true
    } else if (sumFailed) wantSummary()

    for (const c of b.ticker as readonly Change[]) {
      if (c.rev <= tickerRev) continue
      tickerRev = c.rev
      const held = lookup(c.projectId)
      const item = tickerItemOf(c, held)
      // The history fetched after the first picture may already hold it: it can come back
      // after a change was committed and before this copy took that change in.
      if (item && !ring.some((i) => i.rev === item.rev)) {
        ring.push(item)
        ringChanged = true
      }
      if (narrowed && touchesNarrowing(c, n, held, shown.has(c.projectId))) wantSummary()
      if (c.kind === 'problem' || c.kind === 'delete') problemsDirty = true
      if (c.kind === 'settings') fetchRules()
    }
    // In revision order, whichever way each came (the history may have brought later ones).
    if (ringChanged) ring.sort((a, b) => a.rev - b.rev)
    if (ring.length > TICKER_KEEP) ring = ring.slice(-TICKER_KEEP)
    if (extrasTimer === null) extrasTimer = later(startExtras, EXTRAS_AFTER_MS)
    maybeFetchProblems()

    const today = out.today.value
    const sum = narrowed ? narrowedSummary.value : live
    out.summary.value = keepIfSame(out.summary.value, sum, ['rev'])
    out.warnings.value = keepIfSame(out.warnings.value, warningRows(list, n, today, reason))
    if (o.pages.includes('units') && sum) {
      out.units.value = keepIfSame(out.units.value, unitRows(sum.byDepartment, sum.elapsedShare, sum.reporting?.units ?? null, startTallies(list, n), thresholds))
    }
    if (problemsRaw) {
      out.problems.value = keepIfSame(out.problems.value, problemLines(problemsRaw, n, (id) => lookup(id)?.category, today))
    }
    if (ringChanged) {
      ringChanged = false
      const items: TickerItem[] = []
      for (let i = ring.length - 1; i >= 0; i--) {
        const it = ring[i]!
        if ((n.department === null || it.department === n.department) && (n.category === null || it.category === n.category)) items.push(it)
      }
      out.ticker.value = keepIfSame(out.ticker.value, items)
    }
    out.updatedAt.value = lastUpdate.value
    if (narrowed) {
      shown = new Set()
      for (const p of list) if (inNarrowing(p, n)) shown.add(p.id)
    }
  }

  watch([board, liveSummary], schedule)
  schedule()

  onBeforeUnmount(() => {
    stopped = true
    for (const id of timers) clearTimeout(id)
    timers.clear()
    clearInterval(clockTimer)
    clearInterval(dateTimer)
  })
  return out
}
