// Month arithmetic of the monthly cycle, on "YYYY-MM" strings in the zone's time. Pure.
import type { Month, Project, ReportStatus, Warning, WarningLevel, WarningReason } from '../api/types'
import { zoneToday } from '../format'
import { reasonSentence } from './reasons'

const MONTH_RE = /^(\d{4})-(0[1-9]|1[0-2])$/

export function isMonth(s: unknown): s is Month {
  return typeof s === 'string' && MONTH_RE.test(s)
}

export function monthParts(m: Month): { year: number; num: number } {
  return { year: Number(m.slice(0, 4)), num: Number(m.slice(5, 7)) }
}

export function makeMonth(year: number, num: number): Month {
  const y = year + Math.floor((num - 1) / 12)
  const n = ((((num - 1) % 12) + 12) % 12) + 1
  return `${String(y).padStart(4, '0')}-${String(n).padStart(2, '0')}`
}

/** The month n months later (earlier for negative n). */
export function addMonths(m: Month, n: number): Month {
  const { year, num } = monthParts(m)
  return makeMonth(year, num + n)
}

/** The twelve months of a year, January first. */
export function monthsOfYear(year: number): Month[] {
  return Array.from({ length: 12 }, (_, i) => makeMonth(year, i + 1))
}

/** Today's month in the zone's time. */
export function currentMonth(now: Date = new Date()): Month {
  return zoneToday(now).slice(0, 7)
}

/** The month a unit reports by default: the summary's reporting month, else the month before today's. */
export function defaultReportMonth(reporting: { month: Month } | null | undefined, now: Date = new Date()): Month {
  if (reporting && isMonth(reporting.month)) return reporting.month
  return addMonths(currentMonth(now), -1)
}

/** Whole days from an RFC 3339 instant or a date to today (zone time), never negative. */
export function ageDays(from: string, today: string = zoneToday()): number {
  const a = Date.parse(from.length === 10 ? `${from}T00:00:00+08:00` : from)
  const b = Date.parse(`${today}T00:00:00+08:00`)
  if (Number.isNaN(a) || Number.isNaN(b)) return 0
  return Math.max(0, Math.floor((b - a) / 86_400_000))
}

/** An open problem is overdue when its due date is before today. */
export function isOverdue(p: { status: string; due: string }, today: string = zoneToday()): boolean {
  return p.status !== 'resolved' && p.due !== '' && p.due < today
}

const GREEN: Warning = { level: 'green', reasons: [] }

/** A project's warning; green while a server without warnings answers. */
export function warningOf(p: Pick<Project, 'warning'> | null | undefined): Warning {
  const w = p?.warning
  return w && (w.level === 'green' || w.level === 'yellow' || w.level === 'red') ? { level: w.level, reasons: w.reasons ?? [], since: w.since } : GREEN
}

export function levelRank(l: WarningLevel): number {
  return l === 'red' ? 2 : l === 'yellow' ? 1 : 0
}

/** A reason in the reader's language. */
/** A warning reason in words (the server sends its figures only). */
export function reasonText(r: WarningReason, locale: string): string {
  return reasonSentence(r, locale)
}

/** Reports that may still be typed: not approved, in an open month. */
export function reportEditable(status: ReportStatus | undefined, monthClosed: boolean): boolean {
  return !monthClosed && status !== 'approved'
}

/** Money typed in 万元 (up to 4 decimals) to integer yuan; NaN when not a non-negative number. */
export function wanInputToYuan(text: string): number {
  const t = text.trim()
  if (!/^\d+(\.\d{1,4})?$/.test(t)) return Number.NaN
  return Math.round(Number(t) * 10_000)
}

/** "reports[3].monthYuan" → { index: 3, field: "monthYuan" }. */
export function submissionField(field: string | undefined): { index: number; field: string } | null {
  const m = /^reports\[(\d+)\]\.?(.*)$/.exec(field ?? '')
  return m ? { index: Number(m[1]), field: m[2] ?? '' } : null
}
