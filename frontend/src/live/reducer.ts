// The pure heart of the live state: every message of the feed goes through applyMessage.
// No I/O, no Vue: the connection and the stores call it, the unit tests drive it.
import type { Change, Project, ServerMessage, Summary } from '../api/types'

export interface BoardState {
  /** Server epoch of the data held; a new epoch means a new database. */
  epoch: string
  /** Last applied revision. */
  rev: number
  /** True once a snapshot (or a resume on top of one) has filled the state. */
  loaded: boolean
  /** Revision of the last snapshot: ticker changes after it arrived live. */
  snapshotRev: number
  projects: ReadonlyMap<string, Project>
  summary: Summary | null
  /** The change log seen live, newest last, at most `tickerLimit`. */
  ticker: readonly Change[]
}

export type Outcome =
  | { kind: 'applied' }
  | { kind: 'ignored' } // a stale duplicate, or nothing to do
  | { kind: 'resync'; reason: 'gap' | 'not_loaded' } // reconnect without since
  | { kind: 'reload' } // the server asked the page to reload
  | { kind: 'hello'; epoch: string; rev: number; build: string }

export interface Result {
  state: BoardState
  outcome: Outcome
}

export const TICKER_LIMIT = 40

export function emptyState(): BoardState {
  return { epoch: '', rev: 0, loaded: false, snapshotRev: 0, projects: new Map(), summary: null, ticker: [] }
}

/** Apply one server message. Never mutates `state`. */
export function applyMessage(state: BoardState, msg: ServerMessage, tickerLimit = TICKER_LIMIT): Result {
  switch (msg.type) {
    case 'hello':
      return {
        state: msg.epoch === state.epoch ? state : { ...state, epoch: msg.epoch },
        outcome: { kind: 'hello', epoch: msg.epoch, rev: msg.rev, build: msg.build },
      }
    case 'snapshot': {
      const projects = new Map<string, Project>()
      for (const p of msg.projects) projects.set(p.id, p)
      return {
        state: { ...state, rev: msg.rev, snapshotRev: msg.rev, loaded: true, projects, summary: msg.summary },
        outcome: { kind: 'applied' },
      }
    }
    case 'change':
      return applyChange(state, msg.rev, msg.change, msg.project, msg.summary, tickerLimit)
    case 'reload':
      return { state, outcome: { kind: 'reload' } }
  }
}

export function applyChange(
  state: BoardState,
  rev: number,
  change: Change,
  project: Project | null,
  summary: Summary | undefined,
  tickerLimit = TICKER_LIMIT,
): Result {
  if (!state.loaded) return { state, outcome: { kind: 'resync', reason: 'not_loaded' } }
  if (rev <= state.rev) return { state, outcome: { kind: 'ignored' } }
  if (rev !== state.rev + 1) return { state, outcome: { kind: 'resync', reason: 'gap' } }
  // A month or settings change concerns no project (projectId "", project null): it moves the
  // revision, the summary and the ticker, and must not delete anything.
  let projects = state.projects
  if (change.kind === 'delete') {
    if (change.projectId !== '' && projects.has(change.projectId)) {
      const next = new Map(projects)
      next.delete(change.projectId)
      projects = next
    }
  } else if (project !== null) {
    const next = new Map(projects)
    next.set(project.id, project)
    projects = next
  }
  const ticker = state.ticker.length >= tickerLimit ? state.ticker.slice(state.ticker.length - tickerLimit + 1) : state.ticker.slice()
  ticker.push(change)
  return {
    state: { ...state, rev, projects, summary: summary ?? state.summary, ticker },
    outcome: { kind: 'applied' },
  }
}

/** Parse one text frame; null for anything that is not a known message. */
export function parseMessage(text: string): ServerMessage | null {
  let v: unknown
  try {
    v = JSON.parse(text) as unknown
  } catch {
    return null
  }
  return asMessage(v)
}

/**
 * The messages of one frame: a single message, or (the server batches what is queued for a
 * screen that asked with batch=1) a JSON array of them, in order. Unknown entries are skipped.
 */
export function parseFrame(text: string): ServerMessage[] {
  let v: unknown
  try {
    v = JSON.parse(text) as unknown
  } catch {
    return []
  }
  const items = Array.isArray(v) ? v : [v]
  const out: ServerMessage[] = []
  for (const item of items) {
    const m = asMessage(item)
    if (m) out.push(m)
  }
  return out
}

function asMessage(v: unknown): ServerMessage | null {
  if (typeof v !== 'object' || v === null) return null
  const t = (v as { type?: unknown }).type
  switch (t) {
    case 'hello':
    case 'snapshot':
    case 'change':
    case 'reload':
      return v as ServerMessage
    default:
      return null
  }
}

/** Take a summary fetched over HTTP if it is newer than the one held. */
export function withSummary(state: BoardState, summary: Summary): BoardState {
  if (state.summary && summary.rev <= state.summary.rev) return state
  return { ...state, summary }
}

/** Fill the ticker with earlier changes fetched over HTTP (e.g. on first load). */
export function seedTicker(state: BoardState, earlier: readonly Change[], tickerLimit = TICKER_LIMIT): BoardState {
  const have = new Set(state.ticker.map((c) => c.rev))
  const add = earlier.filter((c) => c.rev <= state.rev && !have.has(c.rev))
  if (add.length === 0) return state
  const merged = [...add, ...state.ticker].sort((a, b) => a.rev - b.rev)
  return { ...state, ticker: merged.slice(Math.max(0, merged.length - tickerLimit)) }
}
