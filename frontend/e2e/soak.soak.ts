// Soak test of the wall screen (not part of `test:e2e`; run `npm run test:soak`):
// a steady stream of edits (SOAK_RATE per second, default 50) for SOAK_MINUTES (default 10),
// JS heap measured after a forced GC before and after, frame rate and long tasks during.
import type { CDPSession } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { CreatedToken, Meta, Project } from '../src/api/types'
import { ADMIN_PASSWORD, Api, launch, sleep, TestServer, watchConsole } from './harness'

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10)
const RATE = Number(process.env.SOAK_RATE ?? 50)

let server: TestServer
let admin: Api
let browser: Awaited<ReturnType<typeof launch>>

beforeAll(async () => {
  browser = await launch()
  server = await TestServer.start()
  admin = new Api(server.base)
  await admin.login('admin', ADMIN_PASSWORD)
})
afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

/** Object counts and sizes by constructor from a heap snapshot (SOAK_SNAPSHOTS=1). */
async function heapCensus(cdp: CDPSession): Promise<Map<string, { count: number; size: number }>> {
  await cdp.send('HeapProfiler.collectGarbage')
  const chunks: string[] = []
  const onChunk = (e: { chunk: string }) => chunks.push(e.chunk)
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk)
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false })
  cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk)
  const snap = JSON.parse(chunks.join('')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
    nodes: number[]
    strings: string[]
  }
  const f = snap.snapshot.meta.node_fields
  const width = f.length
  const iType = f.indexOf('type')
  const iName = f.indexOf('name')
  const iSize = f.indexOf('self_size')
  const types = snap.snapshot.meta.node_types[0]
  const out = new Map<string, { count: number; size: number }>()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!] ?? '?'
    const name = type === 'object' || type === 'closure' || type === 'native' ? snap.strings[snap.nodes[i + iName]!] ?? '?' : `(${type})`
    const key = `${type}:${name.slice(0, 60)}`
    const e = out.get(key) ?? { count: 0, size: 0 }
    e.count++
    e.size += snap.nodes[i + iSize]!
    out.set(key, e)
  }
  return out
}

function censusDiff(a: Map<string, { count: number; size: number }>, b: Map<string, { count: number; size: number }>): string {
  const rows = [...b.entries()].map(([k, v]) => {
    const o = a.get(k) ?? { count: 0, size: 0 }
    return { k, dCount: v.count - o.count, dSize: v.size - o.size }
  })
  rows.sort((x, y) => y.dSize - x.dSize)
  return rows
    .slice(0, 20)
    .map((r) => `${r.k}: ${r.dCount >= 0 ? '+' : ''}${r.dCount} objects, ${(r.dSize / 1024).toFixed(1)} KiB`)
    .join('\n')
}

async function heapMB(cdp: CDPSession): Promise<{ used: number; nodes: number; listeners: number }> {
  await cdp.send('HeapProfiler.collectGarbage')
  await sleep(500)
  await cdp.send('HeapProfiler.collectGarbage')
  const h = await cdp.send('Runtime.getHeapUsage')
  const d = await cdp.send('Memory.getDOMCounters')
  return { used: h.usedSize / 1024 / 1024, nodes: d.nodes, listeners: d.jsEventListeners }
}

it(`wall memory stays flat over ${MINUTES} min at ${RATE} changes/s`, { timeout: (MINUTES * 60 + 180) * 1000 }, async () => {
  const tok = await admin.ok<CreatedToken>('POST', '/api/tokens', { kind: 'display', name: 'soak' })
  const page = await (await browser.newContext({ viewport: { width: 1920, height: 1080 } })).newPage()
  const errors = watchConsole(page)
  await page.goto(`${server.base}/wall?token=${encodeURIComponent(tok.token)}`)
  await page.locator('[data-testid=wall-conn].conn-open').waitFor()
  await sleep(3000)
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Memory.getDOMCounters')
  const before = await heapMB(cdp)

  const versions = new Map<string, Project>()
  for (const p of (await admin.ok<{ projects: Project[] }>('GET', '/api/projects')).projects) versions.set(p.id, p)
  const ids = [...versions.keys()]
  const inflight = new Set<string>()
  let sent = 0
  let failed = 0
  let i = 0
  const end = Date.now() + MINUTES * 60_000
  const samples: { t: number; used: number; fps: number; longTasks: number }[] = []
  const interval = 1000 / RATE

  // Frame counter and long-task observer live in the page for the whole run.
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number; __long: number }
    w.__frames = 0
    w.__long = 0
    const tick = () => {
      w.__frames++
      requestAnimationFrame(tick)
    }
    requestAnimationFrame(tick)
    new PerformanceObserver((l) => (w.__long += l.getEntries().length)).observe({ type: 'longtask', buffered: false })
  })
  const snapshots = process.env.SOAK_SNAPSHOTS === '1'
  let firstCensus: Map<string, { count: number; size: number }> | null = null
  let nextSample = Date.now() + 60_000
  let lastFrames = 0
  let lastSampleAt = Date.now()
  const start = Date.now()
  while (Date.now() < end) {
    const due = start + sent * interval
    if (Date.now() < due) await sleep(Math.max(0, due - Date.now()))
    const id = ids[i++ % ids.length]!
    if (inflight.has(id)) {
      await sleep(1) // never spin: the answers need the event loop
      continue
    }
    const p = versions.get(id)!
    inflight.add(id)
    sent++
    const patch = { progress: (p.progress + 1) % 101, investmentCompletedYuan: p.investmentCompletedYuan + 10_000 }
    admin.call<Project>('PATCH', `/api/projects/${encodeURIComponent(id)}`, patch, { 'If-Match': `"${p.version}"` }).then(
      (r) => {
        inflight.delete(id)
        if (r.status === 200) versions.set(id, r.data)
        else {
          if (failed++ === 0) console.log(`first failed PATCH: ${r.status} ${JSON.stringify(r.data)}`)
        }
      },
      (e: unknown) => {
        inflight.delete(id)
        if (failed++ === 0) console.log(`first failed PATCH: ${String(e)}`)
      },
    )
    if (Date.now() >= nextSample) {
      nextSample += 60_000
      const m = await page.evaluate(() => {
        const w = window as unknown as { __frames: number; __long: number }
        return { frames: w.__frames, long: w.__long }
      })
      const h = await heapMB(cdp)
      if (snapshots && !firstCensus) firstCensus = await heapCensus(cdp)
      const now = Date.now()
      samples.push({ t: Math.round((now - start) / 1000), used: h.used, fps: ((m.frames - lastFrames) * 1000) / (now - lastSampleAt), longTasks: m.long })
      lastFrames = m.frames
      lastSampleAt = now
      console.log(`t=${samples.at(-1)!.t}s inflight=${inflight.size} sent=${sent} heap(after GC)=${h.used.toFixed(2)}MB nodes=${h.nodes} fps=${samples.at(-1)!.fps.toFixed(1)} longTasks=${m.long}`)
    }
  }
  while (inflight.size > 0) await sleep(50)
  const meta = await admin.ok<Meta>('GET', '/api/meta')
  await sleep(2000)
  const shownRev = Number(await page.locator('.ticker-row').first().getAttribute('data-rev'))
  const after = await heapMB(cdp)
  if (firstCensus) console.log(`heap growth since minute 1, by constructor:\n${censusDiff(firstCensus, await heapCensus(cdp))}`)
  const fps = samples.map((s) => s.fps)
  console.log(
    `SOAK ${MINUTES} min at ${RATE}/s: sent ${sent}, failed ${failed}; heap before ${before.used.toFixed(2)} MB (${before.nodes} DOM nodes, ${before.listeners} listeners), after ${after.used.toFixed(2)} MB (${after.nodes} nodes, ${after.listeners} listeners); fps min ${Math.min(...fps).toFixed(1)} avg ${(fps.reduce((a, b) => a + b, 0) / Math.max(1, fps.length)).toFixed(1)}; long tasks ${samples.at(-1)?.longTasks ?? 0}; wall rev ${shownRev} / server rev ${meta.rev}`,
  )
  expect(failed).toBe(0)
  expect(shownRev).toBe(meta.rev)
  expect(after.used).toBeLessThan(before.used * 1.5 + 5)
  expect(after.nodes).toBeLessThan(before.nodes * 1.5 + 200)
  expect(errors).toEqual([])
})
