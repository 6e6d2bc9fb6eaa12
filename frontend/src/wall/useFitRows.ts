import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'

/**
 * How many rows of `rowEm` (in the element's own font size) fit in the element's height, less
 * `reserveEm` for a heading: the wall pages its lists instead of scrolling them. Measured when
 * the element's size changes (and once after the first layout), never on a data change.
 * `fallback` is the count until then: what fits on a 16:9 screen (the layout is in em, so the
 * same at 720p, 1080p and 4K), so that the first picture is the right one.
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
  // The observer's first notification comes after the first layout: measuring at mount would
  // force a layout of the whole page in the middle of building it.
  onMounted(() => {
    observer = new ResizeObserver(measure)
    if (el.value) observer.observe(el.value)
  })
  onBeforeUnmount(() => observer?.disconnect())
  return rows
}
