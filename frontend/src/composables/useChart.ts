import { onBeforeUnmount, onMounted, watch, type Ref } from 'vue'
import { echarts, type EChartsCoreOption } from './echarts'

/** Still frames after which a chart's render loop sleeps. */
const SLEEP_AFTER_STILL_FRAMES = 10

/**
 * One chart on one element: created once the element has a size — in a task of its own, so
 * that a page with several charts does not build them all in the task that mounts it —,
 * updated with setOption (never re-created), resized by a ResizeObserver, disposed on unmount.
 * Updates are throttled so a burst of live changes costs a few redraws, not one per change.
 */
export function useChart(el: Ref<HTMLElement | null>, option: () => EChartsCoreOption, throttleMs = 500): void {
  let chart: echarts.ECharts | null = null
  let observer: ResizeObserver | null = null
  let timer: ReturnType<typeof setTimeout> | null = null
  let initTimer: ReturnType<typeof setTimeout> | null = null
  let lastSet = 0
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
    chart.setOption(option())
    lastSet = Date.now()
  }

  function scheduleInit(): void {
    if (chart || initTimer !== null) return
    initTimer = setTimeout(() => {
      initTimer = null
      ensure()
    }, 0)
  }

  function update(): void {
    timer = null
    if (!chart) return ensure()
    chart.setOption(option(), { lazyUpdate: true })
    lastSet = Date.now()
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
    timer = setTimeout(update, wait)
  })

  onBeforeUnmount(() => {
    if (timer !== null) clearTimeout(timer)
    if (initTimer !== null) clearTimeout(initTimer)
    observer?.disconnect()
    chart?.dispose()
    chart = null
  })
}
