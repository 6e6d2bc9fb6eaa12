// What the import page shows of a dry run: pure functions of the server's answer, unit-tested.
import type { ImportCounts, ImportResult, ImportRow, ImportStatus } from '../api/types'

export type RowFilter = ImportStatus | 'all'

export function rowsWith(rows: readonly ImportRow[], filter: RowFilter): ImportRow[] {
  return filter === 'all' ? [...rows] : rows.filter((r) => r.status === filter)
}

/** Rows an apply writes: new and changed projects (with skipErrors the others are left out). */
export function toApply(c: ImportCounts): number {
  return c.create + c.update
}

export type ApplyBlock = 'errors' | 'nothing' | null

/**
 * Why the apply button is disabled: rows with errors the user has not chosen to skip, or
 * nothing to write. The server refuses the same cases (409 import_has_errors).
 */
export function applyBlock(r: ImportResult, skipErrors: boolean): ApplyBlock {
  if (r.counts.error > 0 && !skipErrors) return 'errors'
  if (toApply(r.counts) === 0) return 'nothing'
  return null
}

/** A text the server gives in both languages, in the page's language. */
export function inLocale(zh: string, en: string, locale: string): string {
  return locale === 'en' && en ? en : zh
}

/**
 * An import error or note in the page's language (`message` is Chinese there, `messageEn`
 * English); the Chinese one names row and column as the office sees them.
 */
export function errorText(e: { message: string; messageEn: string }, locale: string): string {
  return inLocale(e.message, e.messageEn, locale)
}

/**
 * An API error's text in the page's language: its `message` is English, `messageZh` the
 * Chinese where the server has one; null when the page is Chinese and there is none.
 */
export function apiMessage(e: { message: string; messageZh?: string | undefined }, locale: string): string | null {
  if (locale === 'en') return e.message
  return e.messageZh ?? null
}

/** The filter to open a dry run on: the errors when there are some, else everything. */
export function initialFilter(c: ImportCounts): RowFilter {
  return c.error > 0 ? 'error' : 'all'
}

/** Project fields in the order the register and the template list them. */
const FIELD_ORDER = [
  'id', 'name', 'category', 'year', 'sector', 'department', 'leader', 'stage',
  'investmentYuan', 'annualPlanYuan', 'investmentCompletedYuan', 'progress',
  'plannedStart', 'startedAt', 'resumedAt', 'plannedCompletion', 'completedAt', 'onHold', 'note',
]

/** A row's changed fields in the register's order (the server's map has none); unknown fields last, by name. */
export function orderedFields(fields: string[]): string[] {
  const rank = (f: string) => {
    const i = FIELD_ORDER.indexOf(f)
    return i < 0 ? FIELD_ORDER.length : i
  }
  return [...fields].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}
