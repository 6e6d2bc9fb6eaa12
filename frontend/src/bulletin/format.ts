// Numbers as the XLSX bulletin shows them (#,##0.00 万元, 0.0%), for the printed one.
import { formatPercent } from '../format'

const wan = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })

/** Yuan as 万元 with two decimals and thousands separators: 12345678 → "1,234.57". */
export function wanFixed(yuan: number): string {
  return wan.format(yuan / 10_000)
}

/** A rate as the bulletin prints it; "—" without a denominator. */
export function rateText(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : formatPercent(rate)
}
