import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'

/**
 * How many rows of `rowEm` (in the element's own font size) fit in the element's height, less
 * `reserveEm` for a heading: the wall pages its lists instead of scrolling them. Measured when
 * the element's size changes, never on a data change.
 */
export function useFitRows(el: Ref<HTMLElement | null>, rowEm: number, reserveEm = 0, fallback = 8): Ref<number> {
  const rows = ref(fallback)
  let observer: ResizeObserver | null = null
  function measure(): void {
    const e = el.value
    if (!e || e.clientHeight === 0) return
    const fs = parseFloat(getComputedStyle(e).fontSize) || 16
    const n = Math.floor((e.clientHeight - reserveEm * fs + 0.5) / (rowEm * fs))
    rows.value = Math.max(1, n)
  }
  onMounted(() => {
    observer = new ResizeObserver(measure)
    if (el.value) observer.observe(el.value)
    measure()
  })
  onBeforeUnmount(() => observer?.disconnect())
  return rows
}
