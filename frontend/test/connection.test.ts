import { describe, expect, it } from 'vitest'
import type { ServerMessage } from '../src/api/types'
import { fullJitter } from '../src/live/backoff'
import { LiveConnection, type LiveDeps, type LiveStatus, type ProbeResult, type SocketLike } from '../src/live/connection'
import { change, project, summary } from './fixtures'

class FakeSocket implements SocketLike {
  onopen: ((ev: Event) => void) | null = null
  onmessage: ((ev: MessageEvent) => void) | null = null
  onclose: ((ev: CloseEvent) => void) | null = null
  onerror: ((ev: Event) => void) | null = null
  closed: number | null = null
  constructor(readonly url: string) {}
  close(code?: number): void {
    this.closed = code ?? 1000
  }
  open(): void {
    this.onopen?.({} as Event)
  }
  send(msg: ServerMessage): void {
    this.onmessage?.({ data: JSON.stringify(msg) } as MessageEvent)
  }
  /** One frame holding several messages, as the server sends to a screen with batch=1. */
  sendBatch(msgs: ServerMessage[]): void {
    this.onmessage?.({ data: JSON.stringify(msgs) } as MessageEvent)
  }
  serverClose(code: number): void {
    this.onclose?.({ code } as CloseEvent)
  }
}

/** A fake clock with timers, sockets and probe answers under test control. */
function harness(probeAnswer: ProbeResult = { kind: 'down' }) {
  let t = 0
  let nextId = 1
  const timers = new Map<number, { at: number; fn: () => void; every?: number }>()
  const sockets: FakeSocket[] = []
  const received: ServerMessage[] = []
  const statuses: LiveStatus[] = []
  let reloads = 0
  let unauthorized = 0
  const h = {
    probe: probeAnswer,
    probes: 0,
  }
  const deps: LiveDeps = {
    createSocket: (url) => {
      const s = new FakeSocket(url)
      sockets.push(s)
      return s
    },
    probe: () => {
      h.probes++
      return Promise.resolve(h.probe)
    },
    reload: () => {
      reloads++
    },
    now: () => t,
    random: () => 0.5,
    setTimeout: (fn, ms) => {
      timers.set(nextId, { at: t + ms, fn })
      return nextId++
    },
    clearTimeout: (id) => void timers.delete(id),
    setInterval: (fn, ms) => {
      timers.set(nextId, { at: t + ms, fn, every: ms })
      return nextId++
    },
    clearInterval: (id) => void timers.delete(id),
  }
  const conn = new LiveConnection(
    { url: 'ws://x/ws?token=T' },
    {
      onMessage: (m) => received.push(m),
      onStatus: (s) => statuses.push(s),
      onUnauthorized: () => unauthorized++,
    },
    deps,
  )
  async function advance(ms: number): Promise<void> {
    const end = t + ms
    for (;;) {
      await Promise.resolve()
      await Promise.resolve()
      let next: [number, { at: number; fn: () => void; every?: number }] | null = null
      for (const e of timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e
      if (!next) break
      t = next[1].at
      if (next[1].every) next[1].at += next[1].every
      else timers.delete(next[0])
      next[1].fn()
    }
    t = end
    await Promise.resolve()
    await Promise.resolve()
  }
  return {
    h,
    conn,
    sockets,
    received,
    statuses,
    advance,
    last: () => sockets[sockets.length - 1]!,
    reloads: () => reloads,
    unauthorized: () => unauthorized,
    pendingTimers: () => timers.size,
  }
}

function helloAndSnapshot(s: FakeSocket, rev = 5, build = 'b1', epoch = 'E1') {
  s.open()
  s.send({ type: 'hello', epoch, rev, build })
  s.send({ type: 'snapshot', rev, projects: [project('a')], summary: summary(rev) })
}

describe('fullJitter', () => {
  it('stays under the exponential ceiling and the cap', () => {
    expect(fullJitter(0, () => 0.999, 500, 10_000)).toBeLessThan(500)
    expect(fullJitter(3, () => 0.999, 500, 10_000)).toBeLessThan(4000)
    expect(fullJitter(30, () => 0.999, 500, 10_000)).toBeLessThan(10_000)
    expect(fullJitter(100, () => 0.999, 500, 10_000)).toBeGreaterThan(9_000)
    expect(fullJitter(5, () => 0, 500, 10_000)).toBe(0)
  })
})

describe('LiveConnection', () => {
  it('opens, passes messages in order and resumes with since and epoch after a drop', async () => {
    const x = harness({ kind: 'ok' })
    x.conn.start()
    expect(x.last().url).toBe('ws://x/ws?token=T')
    helloAndSnapshot(x.last())
    expect(x.conn.status).toBe('open')
    x.last().send({ type: 'change', rev: 6, change: change(6, 'a'), project: project('a') })
    expect(x.received.map((m) => m.type)).toEqual(['hello', 'snapshot', 'change'])
    x.last().serverClose(1006)
    expect(x.conn.status).toBe('offline')
    await x.advance(10_000)
    expect(x.sockets.length).toBe(2)
    expect(x.last().url).toBe('ws://x/ws?token=T&since=6&epoch=E1')
  })

  it('drops stale duplicates and resyncs without since on a gap', () => {
    const x = harness()
    x.conn.start()
    helloAndSnapshot(x.last(), 5)
    x.last().send({ type: 'change', rev: 5, change: change(5, 'a'), project: project('a') })
    expect(x.received.length).toBe(2)
    const first = x.last()
    x.last().send({ type: 'change', rev: 7, change: change(7, 'a'), project: project('a') })
    expect(first.closed).not.toBeNull()
    expect(x.sockets.length).toBe(2)
    expect(x.last().url).toBe('ws://x/ws?token=T')
  })

  it('resyncs on a change before any snapshot, without passing it on', () => {
    const x = harness()
    x.conn.start()
    x.last().open()
    x.last().send({ type: 'hello', epoch: 'E1', rev: 5, build: 'b1' })
    const first = x.last()
    x.last().send({ type: 'change', rev: 6, change: change(6, 'a'), project: project('a') })
    expect(x.received.map((m) => m.type)).toEqual(['hello'])
    expect(first.closed).not.toBeNull()
    expect(x.last().url).toBe('ws://x/ws?token=T')
  })

  it('applies a batched frame in order, and drops the rest of a frame after a gap', () => {
    const x = harness()
    x.conn.start()
    helloAndSnapshot(x.last(), 5)
    x.last().sendBatch([
      { type: 'change', rev: 6, change: change(6, 'a'), project: project('a') },
      { type: 'change', rev: 7, change: change(7, 'a'), project: project('a') },
    ])
    expect(x.received.map((m) => (m.type === 'change' ? m.rev : m.type))).toEqual(['hello', 'snapshot', 6, 7])
    const first = x.last()
    x.last().sendBatch([
      { type: 'change', rev: 9, change: change(9, 'a'), project: project('a') },
      { type: 'change', rev: 10, change: change(10, 'a'), project: project('a') },
    ])
    expect(first.closed).not.toBeNull()
    expect(x.received.length).toBe(4)
  })

  it('backs off with growing, capped, jittered delays and never gives up', async () => {
    const x = harness({ kind: 'down' })
    x.conn.start()
    const gaps: number[] = []
    let before = 0
    for (let i = 0; i < 12; i++) {
      x.last().serverClose(1006)
      const n = x.sockets.length
      let waited = 0
      while (x.sockets.length === n) {
        await x.advance(50)
        waited += 50
        if (waited > 60_000) throw new Error('no reconnect')
      }
      gaps.push(waited)
      before = waited
    }
    expect(before).toBeGreaterThan(0)
    expect(gaps[0]).toBeLessThanOrEqual(300)
    expect(gaps[3]).toBeGreaterThan(gaps[0]!)
    expect(Math.max(...gaps)).toBeLessThanOrEqual(5_050) // random 0.5 of the 10 s cap
    expect(x.conn.status).toBe('connecting')
  })

  it('resets the backoff after a successful hello', async () => {
    const x = harness({ kind: 'down' })
    x.conn.start()
    x.last().serverClose(1006)
    await x.advance(300)
    x.last().serverClose(1006)
    await x.advance(600)
    expect(x.conn.attempt).toBe(2)
    helloAndSnapshot(x.last())
    expect(x.conn.attempt).toBe(0)
    expect(x.conn.disconnectedSince).toBeNull()
  })

  it('reconnects at once on 1001 (server restart)', async () => {
    const x = harness()
    x.conn.start()
    helloAndSnapshot(x.last())
    x.last().serverClose(1001)
    await x.advance(300)
    expect(x.sockets.length).toBe(2)
  })

  it('stops on 4001 and reports unauthorized', async () => {
    const x = harness()
    x.conn.start()
    helloAndSnapshot(x.last())
    x.last().serverClose(4001)
    await x.advance(60_000)
    expect(x.sockets.length).toBe(1)
    expect(x.unauthorized()).toBe(1)
    expect(x.conn.status).toBe('offline')
  })

  it('treats a refused handshake with a 401 probe as unauthorized', async () => {
    const x = harness({ kind: 'unauthorized' })
    x.conn.start()
    x.last().serverClose(1006)
    await x.advance(60_000)
    expect(x.unauthorized()).toBe(1)
    expect(x.sockets.length).toBe(1)
  })

  it('reloads when the build changes or the server says reload', () => {
    const x = harness()
    x.conn.start()
    helloAndSnapshot(x.last(), 5, 'b1')
    x.last().serverClose(1006)
    x.conn.reconnectNow()
    x.last().open()
    x.last().send({ type: 'hello', epoch: 'E1', rev: 5, build: 'b2' })
    expect(x.reloads()).toBe(1)
    x.last().send({ type: 'reload' })
    expect(x.reloads()).toBe(2)
  })

  it('a new epoch drops the resume point', () => {
    const x = harness()
    x.conn.start()
    helloAndSnapshot(x.last(), 5, 'b1', 'E1')
    x.last().send({ type: 'hello', epoch: 'E2', rev: 1, build: 'b1' })
    expect(x.conn.loaded).toBe(false)
    expect(x.conn.nextURL()).toBe('ws://x/ws?token=T')
  })

  it('watchdog: a silent socket whose server moved on is replaced', async () => {
    const x = harness({ kind: 'ok', rev: 9, build: 'b1' })
    x.conn.start()
    helloAndSnapshot(x.last(), 5)
    await x.advance(69_000)
    expect(x.h.probes).toBe(0)
    await x.advance(10_000)
    expect(x.h.probes).toBe(1)
    expect(x.sockets.length).toBe(2)
    expect(x.last().url).toContain('since=5')
  })

  it('watchdog: an idle but healthy server keeps the socket', async () => {
    const x = harness({ kind: 'ok', rev: 5, build: 'b1' })
    x.conn.start()
    helloAndSnapshot(x.last(), 5)
    await x.advance(300_000)
    expect(x.h.probes).toBeGreaterThanOrEqual(4)
    expect(x.sockets.length).toBe(1)
  })

  it('watchdog: an unreachable server means reconnect', async () => {
    const x = harness({ kind: 'down' })
    x.conn.start()
    helloAndSnapshot(x.last(), 5)
    await x.advance(80_000)
    expect(x.sockets.length).toBeGreaterThan(1)
  })

  it('keeps a bounded number of timers over many reconnects', async () => {
    const x = harness({ kind: 'down' })
    x.conn.start()
    for (let i = 0; i < 200; i++) {
      x.last().serverClose(1006)
      await x.advance(11_000)
    }
    expect(x.pendingTimers()).toBeLessThanOrEqual(2)
    x.conn.stop()
    expect(x.pendingTimers()).toBe(0)
  })
})
