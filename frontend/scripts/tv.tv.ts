// The wall on a cheap TV stick (`npm run test:tv`; not part of `make test`).
//
// Starts the real binary (PROJECTBOARD_BIN, default ../bin/projectboard; this builds nothing)
// on the bundled 2022 data with its clock at 8 November 2022, opens /wall?token=… in Chromium
// at 1920×1080 with the CPU throttled 4× (CDP Emulation.setCPUThrottlingRate, the stand-in for
// a TV stick), and measures:
//   - first full render: navigation start → KPI figures shown and every visible ECharts chart
//     drawn (pixels on its canvas), by performance.now() in the page; TV_RENDER_RUNS cold
//     loads (default 3), the bar on the median;
//   - under TV_RATE edits/s (default 10; PATCH progress, round-robin, as the admin, If-Match)
//     for TV_DURATION (default 5m; e.g. TV_DURATION=60s): the main thread's busy share
//     (Δ TaskDuration / Δ time of CDP Performance.getMetrics, every 10 s), long tasks
//     (PerformanceObserver 'longtask' in the page), the JS heap after a forced GC at the start
//     and at the end of the load, and whether every edit reached the page.
// Prints one table, writes test-results/tv.json, fails when a bar fails unless TV_NO_FAIL=1.
// The machine's load average is recorded beside the figures: other processes on a shared
// machine take CPU from the page and lengthen its tasks.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { CreatedToken, Meta, Project, Stage } from '../src/api/types'
import { ADMIN_PASSWORD, Api, launch, sleep, TestServer } from '../e2e/harness'

const CLOCK = '2022-11-08T10:00:00+08:00'
const DURATION_MS = parseDuration(process.env.TV_DURATION ?? '5m')
const RATE = Number(process.env.TV_RATE ?? 10)
const THROTTLE = Number(process.env.TV_THROTTLE ?? 4)
const RENDER_RUNS = Math.max(1, Number(process.env.TV_RENDER_RUNS ?? 3))
const SAMPLE_MS = 10_000
const NO_FAIL = process.env.TV_NO_FAIL === '1'
/** The element whose digits are "the figures"; the charts are every element ECharts owns. */
const FIGURES = process.env.TV_FIGURES ?? '[data-testid=wall-kpis]'
/** Extra query parameters for the wall, e.g. TV_WALL_QUERY='lang=en&rotate=0'. */
const WALL_QUERY = process.env.TV_WALL_QUERY ?? ''
/** TV_PROFILE=FILE: a CPU profile of the load goes to FILE, and its longest busy stretches are printed. */
const PROFILE = process.env.TV_PROFILE ?? ''
/**
 * TV_TRACE=FILE: a Chrome trace of the load (the renderer's tasks, style, layout, paint, GC,
 * script) goes to FILE, the page marks each page turn and sub-page turn in it, and the longest
 * tasks are printed with what they held and the turn before them.
 */
const TRACE = process.env.TV_TRACE ?? ''
const OUT = resolve(import.meta.dirname, '../test-results/tv.json')

const BARS = {
  firstRenderMs: 4000,
  busyShare: 0.35,
  longestTaskMs: 200,
  heapGrowthMB: 2,
}

function signed(mb: number): string {
  return `${mb >= 0 ? '+' : ''}${mb.toFixed(2)}`
}

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/.exec(s.trim())
  if (!m) throw new Error(`TV_DURATION=${s}: want e.g. 60s, 5m, 300`)
  const n = Number(m[1])
  switch (m[2]) {
    case 'ms':
      return n
    case 'm':
    case 'min':
      return n * 60_000
    case 'h':
      return n * 3_600_000
    default:
      return n * 1000
  }
}

// ---- in the page -------------------------------------------------------------------------

interface TvProbe {
  /** performance.now() when the figures and every visible chart were drawn. */
  firstRender: number | null
  /** performance.now() when the figures alone were shown. */
  figuresAt: number | null
  long: { start: number; duration: number }[]
}

/**
 * Runs in the page before its own scripts (addInitScript): a long-task observer for the
 * page's whole life and, once per frame until it holds, the first-render condition.
 * Self-contained: it is serialised into the page.
 */
function installProbe(args: { figures: string; marks: boolean }): void {
  const { figures, marks } = args
  const probe: TvProbe = { firstRender: null, figuresAt: null, long: [] }
  ;(window as unknown as { __tv: TvProbe }).__tv = probe
  // With a trace: what the screen shows (pages and sub-page counters), as a user-timing mark
  // whenever it changes, polled 4 times a second.
  if (marks) {
    let last = ''
    setInterval(() => {
      const now = [...document.querySelectorAll('.wall-slot')]
        .map((s) => `${(s as HTMLElement).dataset.page}[${[...s.querySelectorAll('.pager')].map((p) => p.textContent?.trim()).join(' ')}]`)
        .join(' ')
      if (now !== last) performance.mark(`screen ${now}`)
      last = now
    }, 250)
  }
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.long.push({ start: e.startTime, duration: e.duration })
    }).observe({ type: 'longtask', buffered: true })
  } catch {
    /* no long-task API: the table says so */
  }
  // A chart is drawn when its canvas, scaled down, holds more than one colour (a chart with
  // a painted background and nothing on it is one colour), or its SVG has shapes.
  const W = 48
  const H = 27
  let sample: CanvasRenderingContext2D | null = null
  function drawn(el: Element): boolean {
    const svg = el.querySelector('svg')
    if (svg && svg.querySelectorAll('path, text').length > 0) return true
    if (!sample) {
      const c = document.createElement('canvas')
      c.width = W
      c.height = H
      sample = c.getContext('2d', { willReadFrequently: true })
    }
    if (!sample) return false
    for (const c of el.querySelectorAll('canvas')) {
      if (c.width === 0 || c.height === 0) continue
      sample.clearRect(0, 0, W, H)
      sample.drawImage(c, 0, 0, W, H)
      const d = sample.getImageData(0, 0, W, H).data
      for (let i = 4; i < d.length; i += 4) {
        if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) return true
      }
    }
    return false
  }
  function visible(el: Element): boolean {
    const r = el.getBoundingClientRect()
    return r.width > 0 && r.height > 0
  }
  function check(): void {
    const fig = document.querySelector(figures)
    if (fig && /\d/.test(fig.textContent ?? '')) {
      if (probe.figuresAt === null) probe.figuresAt = performance.now()
      const charts = [...document.querySelectorAll('[_echarts_instance_]')].filter(visible)
      if (charts.length > 0 && charts.every(drawn)) {
        probe.firstRender = performance.now()
        return
      }
    }
    requestAnimationFrame(check)
  }
  requestAnimationFrame(check)
}

// ---- in Node -----------------------------------------------------------------------------

let server: TestServer
let browser: Browser
let admin: Api
const contexts: BrowserContext[] = []

beforeAll(async () => {
  browser = await launch()
  server = await TestServer.start(['--clock', CLOCK])
  admin = new Api(server.base)
  await admin.login('admin', ADMIN_PASSWORD)
})

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined)
  await browser?.close()
  await server?.stop()
})

interface Wall {
  page: Page
  cdp: CDPSession
  firstRenderMs: number | null
  figuresMs: number | null
  /** The highest revision seen in the wall's websocket frames. */
  maxRev: () => number
  revsSeen: Set<number>
}

/** A cold load of the wall in a fresh context (empty cache), throttled from the first byte. */
async function openWall(url: string): Promise<Wall> {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' })
  contexts.push(ctx)
  const page = await ctx.newPage()
  const cdp = await ctx.newCDPSession(page)
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE })
  await page.addInitScript(installProbe, { figures: FIGURES, marks: TRACE !== '' })
  const revsSeen = new Set<number>()
  let maxRev = 0
  page.on('websocket', (ws) =>
    ws.on('framereceived', (f) => {
      const text = typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8')
      for (const m of text.matchAll(/"rev":(\d+)/g)) {
        const r = Number(m[1])
        revsSeen.add(r)
        if (r > maxRev) maxRev = r
      }
    }),
  )
  await page.goto(url, { waitUntil: 'commit' })
  let firstRenderMs: number | null = null
  try {
    await page.waitForFunction(() => (window as unknown as { __tv?: TvProbe }).__tv?.firstRender != null, undefined, { timeout: 30_000, polling: 250 })
  } catch {
    /* reported as not rendered */
  }
  const p = await page.evaluate(() => {
    const tv = (window as unknown as { __tv?: TvProbe }).__tv
    return { firstRender: tv?.firstRender ?? null, figuresAt: tv?.figuresAt ?? null }
  })
  firstRenderMs = p.firstRender
  return { page, cdp, firstRenderMs, figuresMs: p.figuresAt, maxRev: () => maxRev, revsSeen }
}

interface Heap {
  /** V8's used heap after a forced GC (Runtime.getHeapUsage), MB. */
  usedMB: number
  /** Of it, compiled code (the snapshot's nodes of type "code": bytecode and machine code), MB. */
  codeMB: number
}

/**
 * The heap after a forced GC, and how much of it is compiled code. V8 compiles a function's
 * optimised code only once the function has run hot for a while, so under steady edits the
 * code grows for minutes and levels off (docs/performance.md, "The wall on a TV stick"); the
 * objects and strings the wall holds are what must stay flat.
 */
async function heapAfterGC(cdp: CDPSession): Promise<Heap> {
  await cdp.send('HeapProfiler.collectGarbage')
  await sleep(500)
  await cdp.send('HeapProfiler.collectGarbage')
  const h = await cdp.send('Runtime.getHeapUsage')
  const chunks: string[] = []
  const onChunk = (e: { chunk: string }) => chunks.push(e.chunk)
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk)
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false })
  cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk)
  const snap = JSON.parse(chunks.join('')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[] }
  const fields = snap.snapshot.meta.node_fields
  const typeAt = fields.indexOf('type')
  const sizeAt = fields.indexOf('self_size')
  const code = snap.snapshot.meta.node_types[0].indexOf('code')
  let codeBytes = 0
  for (let i = 0; i < snap.nodes.length; i += fields.length) if (snap.nodes[i + typeAt] === code) codeBytes += snap.nodes[i + sizeAt] ?? 0
  return { usedMB: h.usedSize / 1024 / 1024, codeMB: codeBytes / 1024 / 1024 }
}

async function metrics(cdp: CDPSession): Promise<Record<string, number>> {
  const r = await cdp.send('Performance.getMetrics')
  return Object.fromEntries(r.metrics.map((m) => [m.name, m.value]))
}

/**
 * A fixed piece of JS, timed in the throttled page and in an unthrottled one (medians of 3).
 * Their ratio is the throttle as it works here: below the rate when the machine is busy,
 * since the unthrottled page is slowed too (and Chromium's throttler itself takes CPU).
 */
async function calibrate(page: Page): Promise<{ throttledMs: number; plainMs: number; ratio: number }> {
  const work = () => {
    const t0 = performance.now()
    let x = 0
    for (let i = 0; i < 20_000_000; i++) x = (x * 31 + i) % 1_000_003
    return { ms: performance.now() - t0, x }
  }
  const ref = await (await browser.newContext()).newPage()
  contexts.push(ref.context())
  const throttled: number[] = []
  const plain: number[] = []
  for (let i = 0; i < 3; i++) {
    throttled.push((await page.evaluate(work)).ms)
    plain.push((await ref.evaluate(work)).ms)
  }
  await ref.context().close()
  return { throttledMs: Math.round(median(throttled)), plainMs: Math.round(median(plain)), ratio: median(throttled) / median(plain) }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const r1 = (x: number) => Math.round(x * 10) / 10
const r2 = (x: number) => Math.round(x * 100) / 100
/** A share to three decimals (0.831 = 83.1 %). */
const r3 = (x: number) => Math.round(x * 1000) / 1000

it(`the wall on a TV stick: ${THROTTLE}× CPU throttle, ${RATE} edits/s for ${DURATION_MS / 1000} s`, { timeout: DURATION_MS + 10 * 60_000 }, async () => {
  const load = { start: loadavg().map(r2), samples: [] as number[], end: [] as number[] }
  const token = (await admin.ok<CreatedToken>('POST', '/api/tokens', { kind: 'display', name: 'tv' })).token
  const url = `${server.base}/wall?token=${encodeURIComponent(token)}${WALL_QUERY ? `&${WALL_QUERY}` : ''}`

  // First full render, cold, RENDER_RUNS times; the last page stays for the load.
  const renders: { firstRenderMs: number | null; figuresMs: number | null }[] = []
  let wall: Wall | null = null
  for (let i = 0; i < RENDER_RUNS; i++) {
    if (wall) await wall.page.context().close()
    wall = await openWall(url)
    renders.push({ firstRenderMs: wall.firstRenderMs && Math.round(wall.firstRenderMs), figuresMs: wall.figuresMs && Math.round(wall.figuresMs) })
    console.log(`first render ${i + 1}/${RENDER_RUNS}: figures ${wall.figuresMs?.toFixed(0) ?? '—'} ms, charts drawn ${wall.firstRenderMs?.toFixed(0) ?? 'never (30 s)'} ms; load ${loadavg()[0]!.toFixed(2)}`)
  }
  const { page, cdp } = wall!
  const renderTimes = renders.map((r) => r.firstRenderMs).filter((x): x is number => x !== null)
  const firstRenderMs = renderTimes.length === renders.length ? median(renderTimes) : null
  const calibration = await calibrate(page)

  // Settle: the socket open and quiet for a moment, then the heap at the start of the load.
  await page.waitForFunction(() => document.querySelector('[data-testid=wall-conn]')?.classList.contains('conn-open') ?? true, undefined, { timeout: 30_000, polling: 500 })
  await sleep(5000)
  await cdp.send('Performance.enable')
  const heapStart = await heapAfterGC(cdp)

  const projects = new Map<string, Project>()
  // Completed projects keep 100 % (the server refuses anything else): they are left alone.
  const FIXED: readonly Stage[] = ['completed', 'operating']
  for (const p of (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects) if (!FIXED.includes(p.stage)) projects.set(p.id, p)
  const ids = [...projects.keys()]
  const revStart = (await admin.ok<Meta>('GET', '/api/meta')).rev

  const inflight = new Set<string>()
  let sent = 0
  let ok = 0
  let failed = 0
  const failures: string[] = []
  function edit(id: string): void {
    const p = projects.get(id)!
    inflight.add(id)
    sent++
    // Progress up by one point, down again from 100: always a real change.
    const progress = p.progress < 100 ? p.progress + 1 : p.progress - 1
    admin.call<Project>('PATCH', `/api/projects/${encodeURIComponent(id)}`, { progress }, { 'If-Match': `"${p.version}"` }).then(
      async (r) => {
        if (r.status === 200) {
          ok++
          projects.set(id, r.data)
        } else {
          failed++
          if (failures.length < 5) failures.push(`${r.status} ${JSON.stringify(r.data)}`)
          projects.set(id, await admin.ok<Project>('GET', `/api/projects/${encodeURIComponent(id)}`))
        }
        inflight.delete(id)
      },
      (e: unknown) => {
        failed++
        if (failures.length < 5) failures.push(String(e))
        inflight.delete(id)
      },
    )
  }

  interface Window10 {
    t: number
    busy: number
    longTasks: number
    longestMs: number
    heapMB: number
    load1: number
    updated: string | null
  }
  const windows: Window10[] = []
  const longSince = async (since: number) =>
    page.evaluate((s) => ((window as unknown as { __tv: TvProbe }).__tv.long ?? []).filter((e) => e.start >= s), since)
  const updatedText = () =>
    page
      .locator('[data-testid=wall-updated]')
      .textContent({ timeout: 1000 })
      .catch(() => null)

  if (PROFILE) {
    await cdp.send('Profiler.enable')
    await cdp.send('Profiler.setSamplingInterval', { interval: 250 })
    await cdp.send('Profiler.start')
  }
  if (TRACE) await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink.user_timing'] })
  const loadStartInPage = await page.evaluate(() => performance.now())
  let prev = await metrics(cdp)
  const first = prev
  let prevInPage = loadStartInPage
  const start = Date.now()
  const end = start + DURATION_MS
  let nextSample = start + SAMPLE_MS
  let i = 0
  const interval = 1000 / RATE
  while (Date.now() < end) {
    const due = start + sent * interval
    if (Date.now() < due) await sleep(Math.min(due - Date.now(), Math.max(0, nextSample - Date.now())))
    if (Date.now() >= nextSample) {
      nextSample += SAMPLE_MS
      const m = await metrics(cdp)
      const nowInPage = await page.evaluate(() => performance.now())
      const long = (await longSince(prevInPage)).filter((e) => e.start < nowInPage)
      const w: Window10 = {
        t: Math.round((Date.now() - start) / 1000),
        busy: (m.TaskDuration! - prev.TaskDuration!) / (m.Timestamp! - prev.Timestamp!),
        longTasks: long.length,
        longestMs: Math.round(Math.max(0, ...long.map((e) => e.duration))),
        heapMB: r2(m.JSHeapUsedSize! / 1024 / 1024),
        load1: r2(loadavg()[0]!),
        updated: await updatedText(),
      }
      windows.push(w)
      load.samples.push(w.load1)
      console.log(
        `t=${w.t}s busy ${(w.busy * 100).toFixed(1)} % long tasks ${w.longTasks} (max ${w.longestMs} ms) heap ${w.heapMB} MB sent ${sent} ok ${ok} inflight ${inflight.size} load ${w.load1} ${w.updated ?? ''}`,
      )
      prev = m
      prevInPage = nowInPage
      continue
    }
    if (Date.now() < due) continue
    // Round-robin; a project whose previous edit is still unanswered waits for the next round.
    let id = ids[i++ % ids.length]!
    for (let k = 0; inflight.has(id) && k < ids.length; k++) id = ids[i++ % ids.length]!
    if (inflight.has(id)) {
      await sleep(5)
      continue
    }
    edit(id)
  }
  const last = await metrics(cdp)
  const loadEndInPage = await page.evaluate(() => performance.now())
  if (PROFILE) {
    const { profile } = await cdp.send('Profiler.stop')
    writeFileSync(PROFILE, JSON.stringify(profile))
    console.log(busyStretches(profile))
  }
  if (TRACE) {
    const trace = await browser.stopTracing()
    writeFileSync(TRACE, trace)
    console.log(longestTraceTasks(JSON.parse(trace.toString('utf8')) as TraceFile))
  }
  for (let k = 0; inflight.size > 0 && k < 600; k++) await sleep(50)

  // Every edit reached the page: its socket carried the server's last revision, and the
  // wall's "updated" time moved in every 10-s window.
  const revEnd = (await admin.ok<Meta>('GET', '/api/meta')).rev
  for (let k = 0; wall!.maxRev() < revEnd && k < 100; k++) await sleep(100)
  const pageRev = wall!.maxRev()
  let delivered = 0
  for (let r = revStart + 1; r <= revEnd; r++) if (wall!.revsSeen.has(r)) delivered++
  const updates = windows.map((w) => w.updated)
  // From the first window that shows the time (the first may come before the page's first
  // update): a window without it after that means the line went away.
  const shown = updates.slice(Math.max(0, updates.findIndex((u) => u !== null)))
  const updatedMoved = shown.length > 1 && shown.every((u) => u !== null) ? shown.slice(1).filter((u, k) => u !== shown[k]).length : null

  await sleep(2000)
  const heapEnd = await heapAfterGC(cdp)
  load.end = loadavg().map(r2)

  const longAll = (await longSince(loadStartInPage)).filter((e) => e.start < loadEndInPage)
  const busy = (last.TaskDuration! - first.TaskDuration!) / (last.Timestamp! - first.Timestamp!)
  const busyMax = Math.max(...windows.map((w) => w.busy))
  const longestMs = Math.round(Math.max(0, ...longAll.map((e) => e.duration)))
  const over50 = longAll.length // a long task is one over 50 ms
  const over200 = longAll.filter((e) => e.duration > 200).length
  const heapGrowth = heapEnd.usedMB - heapStart.usedMB
  const codeGrowth = heapEnd.codeMB - heapStart.codeMB
  const dataGrowth = heapGrowth - codeGrowth

  interface Row {
    figure: string
    value: string
    bar: string
    pass: boolean | null
  }
  const rows: Row[] = [
    {
      figure: `first full render (median of ${renders.length} cold loads)`,
      value: firstRenderMs === null ? 'never' : `${(firstRenderMs / 1000).toFixed(2)} s`,
      bar: `≤ ${BARS.firstRenderMs / 1000} s`,
      pass: firstRenderMs !== null && firstRenderMs <= BARS.firstRenderMs,
    },
    {
      figure: '  each load: figures / charts drawn',
      value: renders.map((r) => `${r.figuresMs ?? '—'}/${r.firstRenderMs ?? '—'}`).join(', ') + ' ms',
      bar: '',
      pass: null,
    },
    { figure: 'main-thread busy share, overall', value: `${(busy * 100).toFixed(1)} %`, bar: `≤ ${BARS.busyShare * 100} %`, pass: busy <= BARS.busyShare },
    { figure: 'main-thread busy share, worst 10 s', value: `${(busyMax * 100).toFixed(1)} %`, bar: `≤ ${BARS.busyShare * 100} %`, pass: busyMax <= BARS.busyShare },
    { figure: 'longest task', value: `${longestMs} ms`, bar: `≤ ${BARS.longestTaskMs} ms`, pass: over200 === 0 },
    { figure: 'long tasks > 50 ms', value: String(over50), bar: '', pass: null },
    {
      figure: 'JS heap after GC, start → end',
      value: `${heapStart.usedMB.toFixed(2)} → ${heapEnd.usedMB.toFixed(2)} MB (${signed(heapGrowth)})`,
      bar: '',
      pass: null,
    },
    {
      figure: '  of it compiled code',
      value: `${heapStart.codeMB.toFixed(2)} → ${heapEnd.codeMB.toFixed(2)} MB (${signed(codeGrowth)})`,
      bar: '',
      pass: null,
    },
    {
      figure: '  the rest: objects, strings',
      value: `${(heapStart.usedMB - heapStart.codeMB).toFixed(2)} → ${(heapEnd.usedMB - heapEnd.codeMB).toFixed(2)} MB (${signed(dataGrowth)})`,
      bar: `≤ +${BARS.heapGrowthMB} MB`,
      pass: dataGrowth <= BARS.heapGrowthMB,
    },
    {
      figure: 'edits: sent / answered 200 / failed',
      value: `${sent} / ${ok} / ${failed} (${r1(sent / (DURATION_MS / 1000))}/s)`,
      bar: 'none failed',
      pass: failed === 0 && ok === sent,
    },
    {
      figure: 'edits reached the page (socket revs)',
      value: `rev ${pageRev} of ${revEnd}; ${delivered}/${revEnd - revStart} revs in frames`,
      bar: 'last rev shown',
      pass: pageRev >= revEnd,
    },
    {
      figure: '"updated" time moved (10-s windows)',
      value: updatedMoved === null ? 'n/a (no [data-testid=wall-updated])' : `${updatedMoved}/${updates.length - 1}`,
      bar: '',
      pass: null,
    },
    {
      figure: 'a fixed JS loop: throttled / plain page',
      value: `${calibration.throttledMs} / ${calibration.plainMs} ms (${calibration.ratio.toFixed(1)}×)`,
      bar: `rate ${THROTTLE}×`,
      pass: null,
    },
    { figure: 'load average (1 min) start / during max / end', value: `${load.start[0]} / ${Math.max(...load.samples)} / ${load.end[0]} (${cpus().length} CPUs)`, bar: '', pass: null },
  ]
  const w0 = Math.max(...rows.map((r) => r.figure.length))
  const w1 = Math.max(...rows.map((r) => r.value.length))
  const w2 = Math.max(...rows.map((r) => r.bar.length))
  const table = [
    `TV stick: wall ${url.replace(/token=[^&]+/, 'token=…')}, 1920×1080, CPU ÷${THROTTLE}, ${RATE} edits/s for ${DURATION_MS / 1000} s`,
    ...rows.map((r) => `${r.figure.padEnd(w0)}  ${r.value.padEnd(w1)}  ${r.bar.padEnd(w2)}  ${r.pass === null ? '' : r.pass ? 'PASS' : 'FAIL'}`),
  ].join('\n')
  console.log(table)
  if (failures.length) console.log(`first failed edits:\n${failures.join('\n')}`)

  const result = {
    at: new Date().toISOString(),
    settings: { durationS: DURATION_MS / 1000, rate: RATE, throttle: THROTTLE, renderRuns: RENDER_RUNS, figures: FIGURES, wallQuery: WALL_QUERY, viewport: '1920x1080' },
    chromium: browser.version(),
    cpus: cpus().length,
    loadAverage: load,
    calibration: { ...calibration, ratio: r2(calibration.ratio) },
    firstRender: { medianMs: firstRenderMs, runs: renders, barMs: BARS.firstRenderMs },
    busyShare: {
      overall: r3(busy),
      max10s: r3(busyMax),
      bar: BARS.busyShare,
    },
    longTasks: { over50ms: over50, over200ms: over200, longestMs, barMs: BARS.longestTaskMs },
    heapMB: {
      start: r2(heapStart.usedMB),
      end: r2(heapEnd.usedMB),
      growth: r2(heapGrowth),
      codeStart: r2(heapStart.codeMB),
      codeEnd: r2(heapEnd.codeMB),
      codeGrowth: r2(codeGrowth),
      dataGrowth: r2(dataGrowth),
      barDataGrowth: BARS.heapGrowthMB,
    },
    edits: { sent, ok, failed, revStart, revEnd, pageRev, revsInFrames: delivered, updatedMoved },
    windows: windows.map((w) => ({ ...w, busy: r3(w.busy) })),
    pass: rows.every((r) => r.pass !== false),
    failed: rows.filter((r) => r.pass === false).map((r) => r.figure),
  }
  mkdirSync(resolve(OUT, '..'), { recursive: true })
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n')
  console.log(`written ${OUT}`)
  if (!NO_FAIL) expect(result.failed).toEqual([])
})

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; parent?: number; children?: number[] }[]
  samples?: number[]
  timeDeltas?: number[]
}

/**
 * The profile's five longest busy stretches — runs of samples not in "(idle)", the shape of a
 * long task — each with what took most of it (self time: functions, "(garbage collector)",
 * and "(program)", the renderer's own work such as style and layout), so that a task over the
 * bar can be named.
 */
function busyStretches(p: CpuProfile): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const idle = (id: number) => byId.get(id)?.callFrame.functionName === '(idle)'
  const stretches: { startMs: number; ms: number; self: Map<string, number> }[] = []
  let t = 0
  let cur: { startMs: number; ms: number; self: Map<string, number> } | null = null
  const samples = p.samples ?? []
  for (let i = 0; i < samples.length; i++) {
    const dt = (p.timeDeltas?.[i] ?? 0) / 1000
    t += dt
    const id = samples[i]!
    if (idle(id)) {
      if (cur) stretches.push(cur)
      cur = null
      continue
    }
    cur ??= { startMs: t, ms: 0, self: new Map() }
    cur.ms += dt
    const f = byId.get(id)!.callFrame
    const name = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}`
    cur.self.set(name, (cur.self.get(name) ?? 0) + dt)
  }
  if (cur) stretches.push(cur)
  stretches.sort((a, b) => b.ms - a.ms)
  return stretches
    .slice(0, 5)
    .map((s) => {
      const top = [...s.self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6)
      return `busy ${s.ms.toFixed(0)} ms at ${(s.startMs / 1000).toFixed(1)} s: ` + top.map(([n, ms]) => `${n} ${ms.toFixed(0)}`).join(', ')
    })
    .join('\n')
}

interface TraceEvent {
  name: string
  cat: string
  ph: string
  ts: number
  dur?: number
  pid: number
  tid: number
  args?: { data?: Record<string, unknown>; beginData?: Record<string, unknown>; elementCount?: number }
}
interface TraceFile {
  traceEvents: TraceEvent[]
}

/**
 * The trace's five longest tasks on the page's main thread, each with the time of its parts
 * (the events directly and indirectly inside it, by name: style, layout, paint, GC, timers,
 * script with the function's name), how much the layout and style covered, and the screen mark
 * before it.
 */
function longestTraceTasks(t: TraceFile): string {
  const ev = t.traceEvents
  // The page's main thread: the one the user-timing marks and the most FunctionCalls are on.
  const threads = new Map<string, number>()
  for (const e of ev) if (e.name === 'FunctionCall' || e.cat.includes('blink.user_timing')) threads.set(`${e.pid}:${e.tid}`, (threads.get(`${e.pid}:${e.tid}`) ?? 0) + 1)
  const main = [...threads.entries()].sort((a, b) => b[1] - a[1])[0]?.[0]
  if (!main) return 'trace: no main thread found'
  const onMain = ev.filter((e) => `${e.pid}:${e.tid}` === main).sort((a, b) => a.ts - b.ts)
  const t0 = onMain.find((e) => e.ph === 'X')?.ts ?? 0
  const marks = onMain.filter((e) => e.cat.includes('blink.user_timing') && e.name.startsWith('screen '))
  const tasks = onMain.filter((e) => e.ph === 'X' && e.name === 'RunTask' && (e.dur ?? 0) > 50_000).sort((a, b) => (b.dur ?? 0) - (a.dur ?? 0))
  const out: string[] = [`trace: ${tasks.length} tasks over 50 ms on the main thread`]
  for (const task of tasks.slice(0, 5)) {
    const end = task.ts + (task.dur ?? 0)
    const parts = new Map<string, number>()
    const notes: string[] = []
    for (const e of onMain) {
      if (e.ph !== 'X' || e.ts < task.ts || e.ts >= end || e === task) continue
      let name = e.name
      if (name === 'FunctionCall') {
        const d = e.args?.data ?? {}
        name = `FunctionCall ${String(d.functionName || '(anonymous)')} ${String(d.url ?? '').split('/').pop()}:${Number(d.lineNumber ?? 0) + 1}`
      }
      if (name === 'Layout') notes.push(`layout ${Number(e.args?.beginData?.dirtyObjects ?? 0)}/${Number(e.args?.beginData?.totalObjects ?? 0)} objects ${((e.dur ?? 0) / 1000).toFixed(0)} ms`)
      if (name === 'UpdateLayoutTree' && (e.dur ?? 0) > 5000) notes.push(`style ${Number(e.args?.elementCount ?? 0)} elements ${((e.dur ?? 0) / 1000).toFixed(0)} ms`)
      parts.set(name, (parts.get(name) ?? 0) + (e.dur ?? 0))
    }
    const mark = [...marks].reverse().find((m) => m.ts <= task.ts)
    const top = [...parts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8)
    out.push(
      `task ${((task.dur ?? 0) / 1000).toFixed(0)} ms at ${((task.ts - t0) / 1e6).toFixed(1)} s` +
        (mark ? `, ${((task.ts - mark.ts) / 1e6).toFixed(1)} s after "${mark.name}"` : '') +
        `\n  ${top.map(([n, us]) => `${n} ${(us / 1000).toFixed(0)}`).join(', ')}` +
        (notes.length ? `\n  ${notes.slice(0, 6).join('; ')}` : ''),
    )
  }
  return out.join('\n')
}
