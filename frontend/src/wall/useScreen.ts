// The screen the wall runs on: how many pages fit side by side, the text size they share, and
// the two things a screen left on for months needs (burn-in shift, night dimming).
import { computed, onBeforeUnmount, onMounted, ref, type ComputedRef, type Ref } from 'vue'
import { shiftOffset } from './derive'
import { inDimWindow, slotsFor } from './options'
import type { WallOptions } from './types'

/** The design is 1920×1080 with 16 px text: 1/67.5 of the height, 1/120 of a page's width. */
const EM_OF_HEIGHT = 16 / 1080
const EM_OF_WIDTH = 16 / 1920
/** One pixel of burn-in shift every so often: a full cycle (16 steps) in about five minutes. */
export const SHIFT_STEP_MS = 20_000
const DIM_CHECK_MS = 30_000

export interface Screen {
  /** Pages side by side (at most the number of pages in rotation). */
  slots: ComputedRef<number>
  /** The wall's 1 em in CSS px: 16 at 1920×1080 and on each 1920×1080 part of a wider wall. */
  fontPx: ComputedRef<number>
  /** fontPx / 16, for the charts' canvas text. */
  scale: ComputedRef<number>
  /** The screen's width in the wall's em (120 for each 16:9 part). */
  widthEm: ComputedRef<number>
  shift: Ref<{ x: number; y: number }>
  dimmed: Ref<boolean>
}

export function useScreen(o: WallOptions): Screen {
  const w = ref(window.innerWidth)
  const h = ref(window.innerHeight)
  function onResize(): void {
    w.value = window.innerWidth
    h.value = window.innerHeight
  }
  const slots = computed(() => Math.max(1, Math.min(o.pages.length, o.slots ?? slotsFor(w.value, h.value))))
  const fontPx = computed(() => Math.min(h.value * EM_OF_HEIGHT, (w.value / slots.value) * EM_OF_WIDTH))
  const scale = computed(() => fontPx.value / 16)
  const widthEm = computed(() => w.value / fontPx.value)

  const shift = ref({ x: 0, y: 0 })
  let step = 0
  const shiftTimer = o.shift
    ? setInterval(() => {
        step++
        shift.value = shiftOffset(step)
      }, SHIFT_STEP_MS)
    : null

  const dimmed = ref(false)
  function checkDim(): void {
    const d = new Date()
    dimmed.value = inDimWindow(o.dim, d.getHours() * 60 + d.getMinutes())
  }
  checkDim()
  const dimTimer = o.dim ? setInterval(checkDim, DIM_CHECK_MS) : null

  onMounted(() => window.addEventListener('resize', onResize))
  onBeforeUnmount(() => {
    window.removeEventListener('resize', onResize)
    if (shiftTimer !== null) clearInterval(shiftTimer)
    if (dimTimer !== null) clearInterval(dimTimer)
  })
  return { slots, fontPx, scale, widthEm, shift, dimmed }
}
