// A summary delta applied to the summary held (docs/api.md, "The live feed"). Pure; the
// server's store.ApplySummaryDelta is the reference, and test/summaryDelta.test.ts replays
// the server's recorded deltas (store/testdata/summary-deltas.json) through this one.
import type { Summary, SummaryDelta } from '../api/types'

type Entry = Record<string, unknown>

const KEY_OF: Record<string, string> = { 'reporting.units': 'department' }

/**
 * The summary after `delta`, sharing what did not move; null when the summary held is not
 * the delta's `from` (or the delta names an entry it does not hold): the screen must resync.
 */
export function applySummaryDelta(held: Summary, delta: SummaryDelta): Summary | null {
  if (held.rev !== delta.from) return null
  const next = { ...held } as unknown as Record<string, unknown>
  for (const [k, v] of Object.entries(delta.set ?? {})) {
    const cur = next[k]
    next[k] = isObject(v) && isObject(cur) ? { ...cur, ...v } : v
  }
  // A list and the object holding it, copied once before the first write.
  const parentOf = (name: string): Record<string, unknown> | null => {
    if (name !== 'reporting.units') return next
    const r = next.reporting
    if (!isObject(r)) return null
    if (r === (held as unknown as Record<string, unknown>).reporting) next.reporting = { ...r }
    return next.reporting as Record<string, unknown>
  }
  const member = (name: string): string => (name === 'reporting.units' ? 'units' : name)
  for (const [name, entries] of Object.entries(delta.lists ?? {})) {
    const parent = parentOf(name)
    if (!parent || !Array.isArray(parent[member(name)])) return null
    const key = KEY_OF[name] ?? 'key'
    const items = (parent[member(name)] as Entry[]).slice()
    for (const e of entries) {
      const i = items.findIndex((it) => it[key] === e[key])
      if (i >= 0) items[i] = { ...items[i], ...e }
      else items.push(e)
    }
    parent[member(name)] = items
  }
  for (const [name, keys] of Object.entries(delta.order ?? {})) {
    const parent = parentOf(name)
    if (!parent || !Array.isArray(parent[member(name)])) return null
    const key = KEY_OF[name] ?? 'key'
    const byKey = new Map((parent[member(name)] as Entry[]).map((it) => [it[key], it]))
    const ordered: Entry[] = []
    for (const k of keys) {
      const it = byKey.get(k)
      if (!it) return null
      ordered.push(it)
    }
    parent[member(name)] = ordered
  }
  next.rev = delta.rev
  return next as unknown as Summary
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
