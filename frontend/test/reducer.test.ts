import { describe, expect, it } from 'vitest'
import { applyMessage, emptyState, parseFrame, parseMessage, withSummary, type BoardState } from '../src/live/reducer'
import { change, project, summary } from './fixtures'

function loaded(rev = 10): BoardState {
  return applyMessage(emptyState(), {
    type: 'snapshot',
    rev,
    projects: [project('a'), project('b')],
    summary: summary(rev),
  }).state
}

describe('applyMessage', () => {
  it('snapshot replaces everything', () => {
    const s1 = loaded(10)
    const s2 = applyMessage(s1, { type: 'snapshot', rev: 3, projects: [project('c')], summary: summary(3) }).state
    expect(s2.rev).toBe(3)
    expect([...s2.projects.keys()]).toEqual(['c'])
    expect(s2.summary?.rev).toBe(3)
    expect(s2.loaded).toBe(true)
  })

  it('applies the next change and keeps the old state untouched', () => {
    const s1 = loaded(10)
    const p = project('a', { stage: 'under_construction', version: 2 })
    const r = applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'a'), project: p, summary: summary(11) })
    expect(r.outcome.kind).toBe('applied')
    expect(r.state.rev).toBe(11)
    expect(r.state.projects.get('a')?.stage).toBe('under_construction')
    expect(r.state.summary?.rev).toBe(11)
    expect(r.state.ticker.map((c) => c.rev)).toEqual([11])
    expect(s1.projects.get('a')?.stage).toBe('preparing')
    expect(s1.rev).toBe(10)
  })

  it('keeps the summary when a change has none', () => {
    const s1 = loaded(10)
    const r = applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'a'), project: project('a') })
    expect(r.state.summary?.rev).toBe(10)
  })

  it('creates and deletes', () => {
    const s1 = loaded(10)
    const s2 = applyMessage(s1, {
      type: 'change',
      rev: 11,
      change: change(11, 'n', { kind: 'create', fields: {} }),
      project: project('n'),
    }).state
    expect(s2.projects.has('n')).toBe(true)
    const s3 = applyMessage(s2, { type: 'change', rev: 12, change: change(12, 'a', { kind: 'delete' }), project: null }).state
    expect(s3.projects.has('a')).toBe(false)
    expect(s3.projects.size).toBe(2)
  })

  it('keeps every project for a month or settings change (projectId "", project null)', () => {
    const s1 = loaded(10)
    const r1 = applyMessage(s1, {
      type: 'change',
      rev: 11,
      change: change(11, '', { kind: 'month', key: '2022-10', projectName: '', fields: { status: { from: 'open', to: 'closed' } } }),
      project: null,
      summary: summary(11),
    })
    expect(r1.outcome.kind).toBe('applied')
    expect(r1.state.rev).toBe(11)
    expect([...r1.state.projects.keys()]).toEqual(['a', 'b'])
    expect(r1.state.projects).toBe(s1.projects)
    expect(r1.state.summary?.rev).toBe(11)
    expect(r1.state.ticker.map((c) => c.kind)).toEqual(['month'])
    const r2 = applyMessage(r1.state, {
      type: 'change',
      rev: 12,
      change: change(12, '', { kind: 'settings', key: 'warnings', projectName: '', fields: {} }),
      project: null,
    })
    expect(r2.state.rev).toBe(12)
    expect(r2.state.projects.size).toBe(2)
  })

  it('applies a report or problem change to its project', () => {
    const s1 = loaded(10)
    const p = project('a', { openProblems: 1, warning: { level: 'yellow', reasons: [] }, version: 2 })
    const r = applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'a', { kind: 'problem', key: 'P1', fields: {} }), project: p })
    expect(r.state.projects.get('a')?.openProblems).toBe(1)
    expect(r.state.projects.get('a')?.warning.level).toBe('yellow')
    expect(r.state.projects.size).toBe(2)
  })

  it('does not delete on an empty projectId even for a delete', () => {
    const s1 = loaded(10)
    const r = applyMessage(s1, { type: 'change', rev: 11, change: change(11, '', { kind: 'delete' }), project: null })
    expect(r.state.projects.size).toBe(2)
  })

  it('applies what it is given: the sequence is for the connection to check', () => {
    const s1 = loaded(10)
    // The connection passes on only the next revision; the reducer takes the change's.
    const r = applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'a'), project: project('a', { name: 'new' }) })
    expect(r.outcome.kind).toBe('applied')
    expect(r.state.rev).toBe(11)
    expect(r.state.projects.get('a')?.name).toBe('new')
  })

  it('caps the ticker', () => {
    let s = loaded(0)
    for (let rev = 1; rev <= 100; rev++) {
      s = applyMessage(s, { type: 'change', rev, change: change(rev, 'a'), project: project('a') }, 40).state
    }
    expect(s.ticker.length).toBe(40)
    expect(s.ticker[0]?.rev).toBe(61)
    expect(s.ticker[39]?.rev).toBe(100)
  })

  it('hello records the epoch; reload is passed up', () => {
    const r = applyMessage(emptyState(), { type: 'hello', epoch: 'E1', rev: 5, build: 'b1' })
    expect(r.state.epoch).toBe('E1')
    expect(r.outcome).toEqual({ kind: 'hello', epoch: 'E1', rev: 5, build: 'b1' })
    expect(applyMessage(r.state, { type: 'reload' }).outcome.kind).toBe('reload')
  })

  it('withSummary takes only newer summaries, never ahead of the projects', () => {
    const s1 = applyMessage(loaded(10), { type: 'change', rev: 11, change: change(11, 'a'), project: project('a') }).state
    expect(withSummary(s1, summary(9))).toBe(s1)
    expect(withSummary(s1, summary(11)).summary?.rev).toBe(11)
    // Ahead of the changes applied: the next delta would not fit it.
    expect(withSummary(s1, summary(12))).toBe(s1)
  })

  it('applies a project patch on the version before it, and resyncs on any other', () => {
    const s1 = loaded(10)
    const held = s1.projects.get('a')!
    const patch = { progress: 55, version: held.version + 1, updatedBy: 'ed1' }
    const c = change(11, 'a')
    const r = applyMessage(s1, { type: 'change', rev: 11, change: c, projectPatch: patch })
    expect(r.outcome.kind).toBe('applied')
    // Who and when: the patch's if it names them, else the change's.
    expect(r.state.projects.get('a')).toEqual({ ...held, ...patch, updatedAt: c.at })
    const own = applyMessage(s1, { type: 'change', rev: 11, change: c, projectPatch: { progress: 55, version: held.version + 1 } })
    expect(own.state.projects.get('a')).toEqual({ ...held, progress: 55, version: held.version + 1, updatedAt: c.at, updatedBy: c.by })
    expect(s1.projects.get('a')).toBe(held)
    // The same version: a change that left the project as it was.
    expect(applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'a'), projectPatch: { version: held.version } }).outcome.kind).toBe('applied')
    for (const bad of [held.version + 2, held.version - 1]) {
      const m = applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'a'), projectPatch: { version: bad } })
      expect(m.outcome).toEqual({ kind: 'mismatch' })
      expect(m.state).toBe(s1)
    }
    const unknown = applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'zz'), projectPatch: { version: 2 } })
    expect(unknown.outcome).toEqual({ kind: 'mismatch' })
  })

  it('applies a summary delta on its own revision only', () => {
    const s1 = loaded(10)
    const delta = { from: 10, rev: 11, set: { warnings: { red: 3 } } }
    const r = applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'a'), project: project('a'), summaryDelta: delta })
    expect(r.outcome.kind).toBe('applied')
    expect(r.state.summary?.rev).toBe(11)
    expect(r.state.summary?.warnings).toEqual({ ...s1.summary!.warnings, red: 3 })
    expect(s1.summary?.rev).toBe(10)
    const wrong = applyMessage(s1, { type: 'change', rev: 11, change: change(11, 'a'), project: project('a'), summaryDelta: { ...delta, from: 9 } })
    expect(wrong.outcome).toEqual({ kind: 'mismatch' })
    expect(wrong.state).toBe(s1)
  })
})

describe('parseFrame', () => {
  it('reads one message or a batch of them, skipping what it does not know', () => {
    expect(parseFrame('{"type":"reload"}')).toEqual([{ type: 'reload' }])
    expect(parseFrame('[{"type":"reload"},{"type":"nope"},7,{"type":"reload"}]')).toEqual([{ type: 'reload' }, { type: 'reload' }])
    expect(parseFrame('[')).toEqual([])
  })
})

describe('parseMessage', () => {
  it('accepts known types only', () => {
    expect(parseMessage('{"type":"reload"}')).toEqual({ type: 'reload' })
    expect(parseMessage('{"type":"nope"}')).toBeNull()
    expect(parseMessage('not json')).toBeNull()
    expect(parseMessage('null')).toBeNull()
  })
})

describe('seedTicker', () => {
  it('merges earlier changes in order without duplicates and caps', async () => {
    const { seedTicker } = await import('../src/live/reducer')
    let s = loaded(10)
    s = applyMessage(s, { type: 'change', rev: 11, change: change(11, 'a'), project: project('a') }).state
    const seeded = seedTicker(s, [change(9, 'a'), change(10, 'b'), change(11, 'a'), change(12, 'x')], 3)
    expect(seeded.ticker.map((c) => c.rev)).toEqual([9, 10, 11])
    expect(seedTicker(seeded, [])).toBe(seeded)
  })
})
