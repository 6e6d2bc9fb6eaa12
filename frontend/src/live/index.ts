// The app-wide live connection and the board state it feeds. Views only read from here.
import { computed, ref, shallowRef } from 'vue'
import { api, ApiError, bearerToken } from '../api/client'
import type { ServerMessage, Summary } from '../api/types'
import { LiveConnection, type LiveStatus, type ProbeResult } from './connection'
import { applyMessage, emptyState, seedTicker, withSummary, type BoardState } from './reducer'

export const status = ref<LiveStatus>('connecting')
/** ms epoch when the connection was lost (or first attempted); null while open. */
export const disconnectedSince = ref<number | null>(Date.now())
/** The session ended or the display token was revoked. */
export const unauthorized = ref(false)
/** Time (ms) the data was last brought up to date by the server. */
export const lastUpdate = ref<number | null>(null)
export const board = shallowRef<BoardState>(emptyState())
/** Every project held, in no particular order. */
export const projects = computed(() => [...board.value.projects.values()])
export const summary = computed<Summary | null>(() => board.value.summary)

let conn: LiveConnection | null = null
let unauthorizedHandler: (() => void) | null = null
const queue: ServerMessage[] = []
let scheduled = false

function wsURL(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const token = bearerToken()
  return `${proto}//${location.host}/ws?batch=1${token ? `&token=${encodeURIComponent(token)}` : ''}`
}

async function probe(): Promise<ProbeResult> {
  try {
    const h = await fetch('/healthz', { cache: 'no-store' })
    if (!h.ok) return { kind: 'down' }
  } catch {
    return { kind: 'down' }
  }
  try {
    const m = await api.meta()
    return { kind: 'ok', rev: m.rev, build: m.build }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return { kind: 'unauthorized' }
    return { kind: 'ok' }
  }
}

// Coalesce: every message waits for the next animation frame, so 50 changes/s cost one
// render per frame. Hidden pages get no frames, so they flush on a timer instead.
function enqueue(msg: ServerMessage): void {
  queue.push(msg)
  if (scheduled) return
  scheduled = true
  if (typeof document !== 'undefined' && document.visibilityState === 'hidden') setTimeout(flush, 250)
  else requestAnimationFrame(flush)
}

function flush(): void {
  scheduled = false
  let s = board.value
  let changed = false
  for (const msg of queue) {
    const r = applyMessage(s, msg)
    s = r.state
    if (r.outcome.kind === 'applied') changed = true
    if (r.outcome.kind === 'mismatch') {
      // The change does not fit what the board holds: start over from a snapshot.
      conn?.resync()
      break
    }
  }
  queue.length = 0
  if (s !== board.value) board.value = s
  if (changed) lastUpdate.value = Date.now()
  maybeRefreshSummary()
  maybeSeedTicker()
}

// The ticker starts with the latest changes of the log, so a wall is never blank after a reload.
let seeded = false
function maybeSeedTicker(): void {
  const s = board.value
  if (seeded || !s.loaded || s.rev === 0) return
  seeded = true
  api.changes(Math.max(0, s.rev - 20), 20).then(
    (changes) => (board.value = seedTicker(board.value, changes)),
    () => {
      // Asked again with the next change or snapshot (a server in the middle of an upgrade in
      // place answers reads of its file with 503 for a second or two).
      seeded = false
    },
  )
}

// The last change of each commit brings the summary along (a delta, or whole); a change
// without one leaves the figures behind until its commit's last arrives, microseconds later
// in the same frame. If they are still behind a second later (a replay cut short), fetch them.
let summaryTimer: ReturnType<typeof setTimeout> | null = null
function summaryBehind(): boolean {
  const s = board.value
  return s.loaded && s.summary !== null && s.summary.rev < s.rev
}
function maybeRefreshSummary(): void {
  if (!summaryBehind() || summaryTimer !== null) return
  summaryTimer = setTimeout(() => {
    if (!summaryBehind()) {
      summaryTimer = null
      return
    }
    api.summary().then(
      (sum) => {
        summaryTimer = null
        board.value = withSummary(board.value, sum)
        maybeRefreshSummary()
      },
      () => {
        summaryTimer = null
      },
    )
  }, 1000)
}

/** Start the app-wide connection once; later calls do nothing. */
export function startLive(onUnauthorized: () => void): void {
  unauthorizedHandler = onUnauthorized
  if (conn) return
  unauthorized.value = false
  conn = new LiveConnection(
    { url: wsURL() },
    {
      onMessage: enqueue,
      onStatus: (st) => {
        status.value = st
        disconnectedSince.value = conn?.disconnectedSince ?? null
      },
      onUnauthorized: () => {
        unauthorized.value = true
        unauthorizedHandler?.()
      },
    },
    {
      createSocket: (url) => new WebSocket(url),
      probe,
      reload: () => location.reload(),
      now: () => Date.now(),
      random: () => Math.random(),
      setTimeout: (fn, ms) => window.setTimeout(fn, ms),
      clearTimeout: (id) => window.clearTimeout(id),
      setInterval: (fn, ms) => window.setInterval(fn, ms),
      clearInterval: (id) => window.clearInterval(id),
    },
  )
  disconnectedSince.value = conn.disconnectedSince
  window.addEventListener('online', onOnline)
  conn.start()
}

function onOnline(): void {
  if (conn && status.value !== 'open') conn.reconnectNow()
}

/** Stop and forget everything (logout). */
export function stopLive(): void {
  conn?.stop()
  conn = null
  window.removeEventListener('online', onOnline)
  board.value = emptyState()
  seeded = false
  status.value = 'connecting'
  lastUpdate.value = null
}

/** Ask for a fresh snapshot (e.g. after a local write failed oddly). */
export function resyncLive(): void {
  conn?.resync()
}
