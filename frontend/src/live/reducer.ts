// The pure heart of the live state: every message of the feed goes through applyMessage.
// No I/O, no Vue: the connection and the stores call it, the unit tests drive it.
// It only applies. Sequencing — revisions in order, stale duplicates, gaps, a new epoch, a
// change before any snapshot — is the connection's alone (connection.ts): it passes on only
// the messages that follow what the board holds. The reducer reports only what it alone can
// see: a change that does not fit the state it is given (a mismatch).
import type { Change, ChangeMessage, Project, ServerMessage, Summary } from '../api/types'
import { applySummaryDelta } from './summaryDelta'

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
  // A patch of a project at another version, or a summary delta from another revision, than
  // the state holds: the state is left as it was; reconnect without since.
  | { kind: 'mismatch' }
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

/**
 * Apply one server message, in the order the connection passes them on (it has checked the
 * sequence). Never mutates `state`.
 */
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
      return applyChange(state, msg, tickerLimit)
    case 'reload':
      return { state, outcome: { kind: 'reload' } }
  }
}

export function applyChange(state: BoardState, msg: ChangeMessage, tickerLimit = TICKER_LIMIT): Result {
  const { rev, change } = msg
  const mismatch: Result = { state, outcome: { kind: 'mismatch' } }
  // A month or settings change concerns no project (projectId "", project null): it moves the
  // revision, the summary and the ticker, and must not delete anything.
  let projects = state.projects
  if (msg.projectPatch) {
    // The members that moved, on top of the project as the screen holds it: its version must
    // be the one before (or the same, for a change that left the project as it was). Who and
    // when are the change's own unless the patch names them.
    const held = projects.get(change.projectId)
    const v = msg.projectPatch.version
    if (!held || (v !== held.version + 1 && v !== held.version)) return mismatch
    const next = new Map(projects)
    next.set(held.id, { ...held, updatedAt: change.at, updatedBy: change.by, ...msg.projectPatch })
    projects = next
  } else if (msg.project) {
    const next = new Map(projects)
    next.set(msg.project.id, msg.project)
    projects = next
  } else if (change.projectId !== '' && projects.has(change.projectId)) {
    const next = new Map(projects)
    next.delete(change.projectId)
    projects = next
  }
  let summary = state.summary
  if (msg.summaryDelta) {
    summary = summary ? applySummaryDelta(summary, msg.summaryDelta) : null
    if (!summary) return mismatch
  } else if (msg.summary) {
    summary = msg.summary
  }
  const ticker = state.ticker.length >= tickerLimit ? state.ticker.slice(state.ticker.length - tickerLimit + 1) : state.ticker.slice()
  ticker.push(change)
  return {
    state: { ...state, rev, projects, summary, ticker },
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

/**
 * Take a summary fetched over HTTP if it is newer than the one held and not ahead of the
 * projects: the feed's next summary delta applies on top of the revision held.
 */
export function withSummary(state: BoardState, summary: Summary): BoardState {
  if ((state.summary && summary.rev <= state.summary.rev) || summary.rev > state.rev) return state
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
