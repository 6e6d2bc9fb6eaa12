import { watch } from 'vue'
import type { Change } from '../api/types'
import { board } from '../live'

/**
 * Calls fn (at most every `wait` ms) when a change the filter accepts arrives through the live
 * feed: pages that fetch month, report or problem data over HTTP refresh with it.
 */
export function onFeedChange(accept: (c: Change) => boolean, fn: () => void, wait = 400): void {
  let timer: ReturnType<typeof setTimeout> | null = null
  let lastRev = board.value.rev
  watch(
    () => board.value.ticker,
    (ticker) => {
      let hit = false
      for (let i = ticker.length - 1; i >= 0; i--) {
        const c = ticker[i]!
        if (c.rev <= lastRev) break
        if (accept(c)) hit = true
      }
      lastRev = Math.max(lastRev, ticker[ticker.length - 1]?.rev ?? 0)
      if (!hit || timer !== null) return
      timer = setTimeout(() => {
        timer = null
        fn()
      }, wait)
    },
  )
}
