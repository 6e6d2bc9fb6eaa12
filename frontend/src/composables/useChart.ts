import { onBeforeUnmount, onMounted, watch, type Ref } from 'vue'
import { echarts, type EChartsCoreOption } from './echarts'

/** Still frames after which a chart's render loop sleeps. */
const SLEEP_AFTER_STILL_FRAMES = 10

// Charts take turns: every chart's build and every update runs in a task of its own, one chart
// per task, and paints there too. Left to ECharts (lazyUpdate), every chart with news redraws in
// the same animation frame — one task holding all of them: on a TV stick the wall's overview,
// coming back on screen with its two charts, held the main thread for 150–280 ms.
const turns: (() => void)[] = []
let turnTimer: ReturnType<typeof setTimeout> | null = null
/** Queues job for a task of its own, unless it is queued already. */
function takeTurn(job: () => void): void {
  if (turns.includes(job)) return
  turns.push(job)
  if (turnTimer === null) turnTimer = setTimeout(nextTurn, 0)
}
function nextTurn(): void {
  turnTimer = null
  turns.shift()?.()
  if (turns.length > 0) turnTimer = setTimeout(nextTurn, 0)
}
function dropTurn(job: () => void): void {
  const i = turns.indexOf(job)
  if (i >= 0) turns.splice(i, 1)
}

/**
 * What an option draws, to skip a setOption that would change nothing (a live refresh hands
 * the charts new arrays holding the same figures). Functions (formatters) are left out: they
 * read the same figures.
 */
function drawnKey(o: EChartsCoreOption): string {
  return JSON.stringify(o)
}

/**
 * One chart on one element: created once the element has a size, updated with setOption (never
 * re-created) only when what it draws changed, resized by a ResizeObserver, disposed on unmount.
 * The build and each update take a turn (above): a task of their own, painted there, so that
 * a page with several charts never draws them all in one task. Updates are throttled so a
 * burst of live changes costs a few redraws, not one per change.
 */
export function useChart(el: Ref<HTMLElement | null>, option: () => EChartsCoreOption, throttleMs = 500): void {
  let chart: echarts.ECharts | null = null
  let observer: ResizeObserver | null = null
  let timer: ReturnType<typeof setTimeout> | null = null
  let lastSet = 0
  /** drawnKey of the option last set. */
  let drawn = ''
  /** The size the chart last drew at. */
  let size = ''
  const sizeOf = (e: HTMLElement) => `${e.clientWidth}x${e.clientHeight}`

  function hasSize(e: HTMLElement): boolean {
    return e.clientWidth > 0 && e.clientHeight > 0
  }

  function ensure(): void {
    const e = el.value
    if (chart || !e || !hasSize(e)) return
    chart = echarts.init(e, null, { renderer: 'canvas' })
    size = sizeOf(e)
    // zrender repaints from a requestAnimationFrame loop that never stops by default: 60 wake-ups
    // a second per chart with nothing to draw (a wall runs for months on a weak TV stick). Let it
    // sleep when still; every redraw (setOption, resize, hover, an animation) wakes it again.
    chart.getZr().setSleepAfterStill(SLEEP_AFTER_STILL_FRAMES)
    draw()
  }

  /** Sets the option now and paints it, in this task; nothing when it draws what is drawn. */
  function draw(): void {
    const o = option()
    const key = drawnKey(o)
    if (!chart || key === drawn) return
    drawn = key
    chart.setOption(o)
    chart.getZr().flush()
    lastSet = Date.now()
  }

  function scheduleInit(): void {
    if (!chart) takeTurn(ensure)
  }

  function update(): void {
    if (chart) draw()
    else ensure()
  }
  function queueUpdate(): void {
    timer = null
    takeTurn(update)
  }

  onMounted(() => {
    // The first notification reports the size the chart was built at: resize only on a change.
    observer = new ResizeObserver(() => {
      const e = el.value
      if (!chart || !e) return scheduleInit()
      // Detached (a page kept off the screen) or unchanged: nothing to lay out again.
      if (!hasSize(e) || sizeOf(e) === size) return
      size = sizeOf(e)
      chart.resize()
    })
    if (el.value) observer.observe(el.value)
    scheduleInit()
  })

  watch(option, () => {
    if (timer !== null) return
    const wait = Math.max(0, throttleMs - (Date.now() - lastSet))
    timer = setTimeout(queueUpdate, wait)
  })

  onBeforeUnmount(() => {
    if (timer !== null) clearTimeout(timer)
    dropTurn(ensure)
    dropTurn(update)
    observer?.disconnect()
    chart?.dispose()
    chart = null
  })
}
