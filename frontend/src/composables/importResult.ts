// What the import page shows of a dry run: pure functions of the server's answer, unit-tested.
import type { ImportCounts, ImportError, ImportResult, ImportRow, ImportStatus } from '../api/types'

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

/** A server message in the page's language: `message` is Chinese where `messageEn` is given. */
export function inLocale(message: string, messageEn: string | undefined, locale: string): string {
  return locale === 'en' && messageEn ? messageEn : message
}

/** An error's text in the page's language; the Chinese one names row and column as the office sees them. */
export function errorText(e: ImportError, locale: string): string {
  return inLocale(e.message, e.messageEn, locale)
}

/** The filter to open a dry run on: the errors when there are some, else everything. */
export function initialFilter(c: ImportCounts): RowFilter {
  return c.error > 0 ? 'error' : 'all'
}
