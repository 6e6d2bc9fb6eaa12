// The server's "now": a board run with `serve --clock` lives on another date than the browser,
// and months, deadlines and overdue problems are the server's. Taken from /api/meta's `now`
// when the server sends it; else the month is inferred from the live summary (序时进度 counts
// the current month of the current year).
import { computed, ref } from 'vue'
import { api } from '../api/client'
import { zoneToday } from '../format'
import { board, summary } from '../live'
import { addMonths, makeMonth } from './months'

const offsetMs = ref<number | null>(null)
let asked = false

/** Ask the server for its clock once (pages of the monthly cycle call this). */
export function syncServerClock(): void {
  if (asked) return
  asked = true
  api.meta().then(
    (m) => {
      const t = m.now ? Date.parse(m.now) : Number.NaN
      if (!Number.isNaN(t)) offsetMs.value = t - Date.now()
    },
    () => {
      asked = false
    },
  )
}

/** The server's date, YYYY-MM-DD in the zone's time. */
export const serverToday = computed(() => {
  if (offsetMs.value !== null) return zoneToday(new Date(Date.now() + offsetMs.value))
  const m = inferredMonth.value
  const today = zoneToday()
  if (!m || m === today.slice(0, 7)) return today
  // A moved clock without meta.now: the newest change seen is the best lower bound we have.
  const ticker = board.value.ticker
  const last = ticker[ticker.length - 1]
  const seen = last ? zoneToday(new Date(last.at)) : ''
  return seen.slice(0, 7) === m ? seen : `${m}-01`
})

/** The server's month, YYYY-MM. */
export const serverMonth = computed(() => (offsetMs.value !== null ? serverToday.value.slice(0, 7) : inferredMonth.value ?? zoneToday().slice(0, 7)))

// 序时进度's elapsed months are the current month's number in the current year, 12 after it.
const inferredMonth = computed<string | null>(() => {
  const s = summary.value
  if (!s || !s.year) return null
  if (s.elapsedMonths >= 1 && s.elapsedMonths <= 11) return makeMonth(s.year, s.elapsedMonths)
  if (s.elapsedMonths === 12) {
    const dec = makeMonth(s.year, 12)
    const after = s.reporting ? addMonths(s.reporting.month, 1) : dec
    return after > dec ? after : dec
  }
  return null
})
