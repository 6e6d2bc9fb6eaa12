// The server's recorded deltas (store/testdata/summary-deltas.json, written by
// TestSummaryDeltaRebuildsTheSummary on the bundled data) replayed through the web UI's
// reducer: each must give exactly the summary the server had after it.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Summary, SummaryDelta } from '../src/api/types'
import { applySummaryDelta } from '../src/live/summaryDelta'

interface Recorded {
  before: Summary
  steps: { what: string; delta: SummaryDelta; after: Summary }[]
}
const rec = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../store/testdata/summary-deltas.json'), 'utf8')) as Recorded

describe('applySummaryDelta', () => {
  it('has steps of every kind', () => {
    const kinds = new Set(rec.steps.map((s) => s.what.replace(/ of .*/, '')))
    expect(kinds.size).toBeGreaterThan(8)
    expect(rec.steps.some((s) => s.delta.order)).toBe(true)
    expect(rec.steps.some((s) => s.delta.lists?.['reporting.units'])).toBe(true)
  })

  it('rebuilds every summary the server had, sharing what did not move', () => {
    let held = rec.before
    for (const step of rec.steps) {
      const before = structuredClone(held)
      const next = applySummaryDelta(held, step.delta)
      expect(next, step.what).toEqual(step.after)
      expect(held, `${step.what}: the summary held is not changed`).toEqual(before)
      if (!step.delta.lists?.byStage && !step.delta.order?.byStage) expect(next!.byStage).toBe(held.byStage)
      held = next!
    }
  })

  it('refuses a delta on any other revision, or naming an entry it does not hold', () => {
    const step = rec.steps[0]!
    expect(applySummaryDelta({ ...rec.before, rev: rec.before.rev + 1 }, step.delta)).toBeNull()
    expect(applySummaryDelta(rec.before, { from: rec.before.rev, rev: rec.before.rev + 1, order: { byStage: ['nope'] } })).toBeNull()
  })
})
