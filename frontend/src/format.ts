// The one place numbers become text. Money arrives as integer yuan.

const YI = 100_000_000
const WAN = 10_000

/** Up to `digits` decimals, trailing zeros dropped, as offices write "191.7亿元". */
function trimmed(n: number, digits: number): string {
  const s = n.toFixed(digits)
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s
}

export interface MoneyParts {
  value: string
  unit: '亿元' | '万元'
}

/** 亿元 from 1亿 upward (2 decimals at most), 万元 below. */
export function moneyParts(yuan: number): MoneyParts {
  const abs = Math.abs(yuan)
  if (abs >= YI) return { value: trimmed(yuan / YI, 2), unit: '亿元' }
  return { value: trimmed(yuan / WAN, 2), unit: '万元' }
}

/** "343.55亿元", "3500万元", "0万元". */
export function formatMoney(yuan: number): string {
  const p = moneyParts(yuan)
  return p.value + p.unit
}

/** Always in 亿元, for chart axes and columns that must compare: "0.35". */
export function yiValue(yuan: number): number {
  return Math.round((yuan / YI) * 100) / 100
}

/** Yuan as 万元 for form fields (up to 4 decimals keeps every yuan). */
export function yuanToWan(yuan: number): string {
  return trimmed(yuan / WAN, 4)
}

/** 万元 text from a form field back to integer yuan; NaN when not a number. */
export function wanToYuan(wan: string): number {
  const t = wan.trim()
  if (t === '' || !/^-?\d+(\.\d+)?$/.test(t)) return Number.NaN
  return Math.round(Number(t) * WAN)
}

/** A fraction as a percentage with at most one decimal: 1 → "100%", 1.015 → "101.5%". */
export function formatPercent(rate: number, digits = 1): string {
  if (!Number.isFinite(rate)) return '—'
  return `${trimmed(rate * 100, digits)}%`
}

/** Rate from a numerator and denominator; 0 when nothing is due. */
export function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0
}

/** Percentage points, signed: "+5.9" / "-12.3". */
export function formatPoints(points: number): string {
  const s = trimmed(Math.abs(points), 1)
  return points >= 0 ? `+${s}` : `-${s}`
}

export function formatCount(n: number): string {
  return String(n)
}

const pad = (n: number) => String(n).padStart(2, '0')

/** The zone's date (Asia/Shanghai) as YYYY-MM-DD: the default effective date of a stage change. */
export function zoneToday(now: Date = new Date()): string {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now)
}

/** HH:MM:SS in local time. */
export function formatTime(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** YYYY-MM-DD in local time. */
export function formatDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

/** RFC 3339 timestamp → "YYYY-MM-DD HH:MM:SS" local; the raw text if unparsable. */
export function formatTimestamp(ts: string): string {
  const d = new Date(ts)
  if (Number.isNaN(d.getTime())) return ts
  return `${formatDate(d)} ${formatTime(d)}`
}

export type Light = 'green' | 'yellow' | 'red'

/** Traffic-light thresholds in percentage points behind 序时进度 (configurable per city). */
export const LIGHT_THRESHOLDS = { yellow: 10, red: 30 }

/** 红黄绿: how far a completion rate lags the share of the year elapsed. */
export function paceLight(rate: number, elapsedShare: number, t = LIGHT_THRESHOLDS): Light {
  const behind = (elapsedShare - rate) * 100
  if (behind > t.red) return 'red'
  if (behind >= t.yellow) return 'yellow'
  return 'green'
}

/** For the few places that build HTML strings (ECharts tooltips): names come from users. */
export function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
