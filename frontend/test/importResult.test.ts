import { describe, expect, it } from 'vitest'
import type { ImportResult, ImportRow } from '../src/api/types'
import { apiMessage, applyBlock, errorText, initialFilter, orderedFields, rowsWith, toApply } from '../src/composables/importResult'

const rows: ImportRow[] = [
  { row: 4, status: 'update', projectId: 'P1', name: '甲', changes: { stage: { from: 'preparing', to: 'under_construction' } } },
  { row: 5, status: 'create', name: '乙', changes: { investmentYuan: { from: null, to: 120_005_000 } } },
  { row: 6, status: 'unchanged', projectId: 'P2', name: '丙' },
  {
    row: 7,
    status: 'error',
    name: '丁',
    errors: [{ column: '总投资', letter: 'D', field: 'investmentYuan', message: '第 7 行「总投资」：不能为负数', messageEn: 'row 7, “总投资”: must not be negative' }],
  },
]

function result(counts: ImportResult['counts']): ImportResult {
  return {
    id: 'imp1',
    fileName: 'a.xlsx',
    format: 'xlsx',
    headerRow: 2,
    year: 2022,
    columns: [],
    unmatched: [],
    notes: [],
    counts,
    rows,
    expiresAt: '2022-05-01T00:30:00Z',
  }
}

describe('import dry run view', () => {
  it('filters rows by status, keeping the sheet order', () => {
    expect(rowsWith(rows, 'all').map((r) => r.row)).toEqual([4, 5, 6, 7])
    expect(rowsWith(rows, 'error').map((r) => r.row)).toEqual([7])
    expect(rowsWith(rows, 'create').map((r) => r.row)).toEqual([5])
  })

  it('blocks apply while rows have errors, unless they are skipped, and when nothing would change', () => {
    const withErrors = result({ create: 1, update: 1, unchanged: 1, error: 1 })
    expect(applyBlock(withErrors, false)).toBe('errors')
    expect(applyBlock(withErrors, true)).toBeNull()
    expect(applyBlock(result({ create: 0, update: 0, unchanged: 3, error: 0 }), false)).toBe('nothing')
    expect(applyBlock(result({ create: 0, update: 0, unchanged: 0, error: 2 }), true)).toBe('nothing')
    expect(applyBlock(result({ create: 0, update: 2, unchanged: 0, error: 0 }), false)).toBeNull()
    expect(toApply({ create: 2, update: 3, unchanged: 9, error: 1 })).toBe(5)
  })

  it('shows errors in the page language and opens on the errors when there are some', () => {
    const e = rows[3]!.errors![0]!
    expect(errorText(e, 'zh-CN')).toBe('第 7 行「总投资」：不能为负数')
    expect(errorText(e, 'en')).toBe('row 7, “总投资”: must not be negative')
    expect(errorText({ ...e, messageEn: '' }, 'en')).toBe(e.message)
    // API errors are the other way round: message English, messageZh Chinese where there is one.
    expect(apiMessage({ message: 'progress must be 100 when completed', messageZh: '竣工时形象进度应为 100' }, 'zh-CN')).toBe('竣工时形象进度应为 100')
    expect(apiMessage({ message: 'progress must be 100 when completed', messageZh: '竣工时形象进度应为 100' }, 'en')).toBe('progress must be 100 when completed')
    expect(apiMessage({ message: 'plannedCompletion is before plannedStart' }, 'zh-CN')).toBeNull()
    expect(initialFilter({ create: 1, update: 0, unchanged: 0, error: 1 })).toBe('error')
    expect(initialFilter({ create: 1, update: 0, unchanged: 0, error: 0 })).toBe('all')
  })

  it("lists a row's fields in the register's order, unknown ones last", () => {
    expect(orderedFields(['note', 'annualPlanYuan', 'category', 'zeta', 'stage', 'alpha', 'name', 'startedAt'])).toEqual([
      'name', 'category', 'stage', 'annualPlanYuan', 'startedAt', 'note', 'alpha', 'zeta',
    ])
  })
})
