import { onBeforeUnmount, onMounted, watch, type Ref } from 'vue'
import { echarts, type EChartsCoreOption } from './echarts'

/**
 * One chart on one element: created once the element has a size, updated with setOption
 * (never re-created), resized by a ResizeObserver, disposed on unmount. Updates are
 * throttled so a burst of live changes costs a few redraws, not one per change.
 */
export function useChart(el: Ref<HTMLElement | null>, option: () => EChartsCoreOption, throttleMs = 500): void {
  let chart: echarts.ECharts | null = null
  let observer: ResizeObserver | null = null
  let timer: ReturnType<typeof setTimeout> | null = null
  let lastSet = 0

  function hasSize(e: HTMLElement): boolean {
    return e.clientWidth > 0 && e.clientHeight > 0
  }

  function ensure(): void {
    const e = el.value
    if (chart || !e || !hasSize(e)) return
    chart = echarts.init(e, null, { renderer: 'canvas' })
    chart.setOption(option())
    lastSet = Date.now()
  }

  function update(): void {
    timer = null
    if (!chart) return ensure()
    chart.setOption(option(), { lazyUpdate: true })
    lastSet = Date.now()
  }

  onMounted(() => {
    observer = new ResizeObserver(() => {
      if (!chart) ensure()
      else chart.resize()
    })
    if (el.value) observer.observe(el.value)
    ensure()
  })

  watch(option, () => {
    if (timer !== null) return
    const wait = Math.max(0, throttleMs - (Date.now() - lastSet))
    timer = setTimeout(update, wait)
  })

  onBeforeUnmount(() => {
    if (timer !== null) clearTimeout(timer)
    observer?.disconnect()
    chart?.dispose()
    chart = null
  })
}
