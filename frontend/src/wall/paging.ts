// The wall's two clocks of rotation: pages (or sets of pages side by side) take turns every
// `rotate` seconds, and a list longer than its page turns its own sub-pages ("1/3") within
// that time. A page whose sub-pages need longer than the slot keeps the screen until each has
// been shown, so no row is ever skipped.
import { computed, inject, onActivated, onBeforeUnmount, onDeactivated, provide, ref, watch, type ComputedRef, type InjectionKey, type Ref } from 'vue'

/** A sub-page stays at least this long (or the whole rotation, if that is shorter). */
export const MIN_DWELL_MS = 6000

interface RotationContext {
  rotateMs: number
  /** Sub-page lists still going through their sub-pages. */
  setBusy(id: symbol, busy: boolean): void
}

const ROTATION: InjectionKey<RotationContext> = Symbol('wall-rotation')

/** How long each of n sub-pages stays: an equal share of the slot, at least MIN_DWELL_MS; 0 = never turn. */
export function dwellFor(n: number, rotateMs: number): number {
  if (n <= 1 || rotateMs <= 0) return 0
  return Math.max(Math.min(MIN_DWELL_MS, rotateMs), rotateMs / n)
}

/**
 * The frame of the rotation shown now. Provides the context the sub-page lists of the pages
 * below report to. One timer; cleared on unmount.
 */
export function useRotation<T>(frames: Ref<T[]>, rotateMs: number): { frame: Ref<number>; current: ComputedRef<T | undefined> } {
  const frame = ref(0)
  const busy = new Set<symbol>()
  let waiting = false
  let timer: ReturnType<typeof setTimeout> | null = null

  function clear(): void {
    if (timer !== null) clearTimeout(timer)
    timer = null
    waiting = false
  }
  function start(): void {
    clear()
    if (rotateMs <= 0 || frames.value.length <= 1) return
    timer = setTimeout(slotEnded, rotateMs)
  }
  function slotEnded(): void {
    timer = null
    if (busy.size > 0) waiting = true
    else advance()
  }
  function advance(): void {
    frame.value = (frame.value + 1) % Math.max(1, frames.value.length)
    start()
  }
  provide(ROTATION, {
    rotateMs,
    setBusy(id, b) {
      if (b) busy.add(id)
      else if (busy.delete(id) && waiting && busy.size === 0) advance()
    },
  })
  watch(
    () => frames.value.length,
    () => {
      frame.value = 0
      start()
    },
  )
  start()
  onBeforeUnmount(clear)
  return { frame, current: computed(() => frames.value[frame.value % Math.max(1, frames.value.length)]) }
}

/**
 * A list's sub-pages: which one shows, and how many there are. Turns every dwellFor(n) ms and
 * tells the rotation once it has shown them all; a refresh of the rows never restarts it.
 */
export function usePaging<T>(pages: Ref<T[][]>): { index: Ref<number>; count: ComputedRef<number>; rows: ComputedRef<T[]> } {
  const ctx = inject(ROTATION, null)
  const rotateMs = ctx?.rotateMs ?? 0
  const id = Symbol('paged-list')
  const index = ref(0)
  const count = computed(() => Math.max(1, pages.value.length))
  let timer: ReturnType<typeof setTimeout> | null = null
  let cycled = false

  function stop(): void {
    if (timer !== null) clearTimeout(timer)
    timer = null
  }
  function step(): void {
    timer = null
    const n = count.value
    index.value = n > 1 ? (index.value + 1) % n : 0
    if (index.value === 0 && !cycled) {
      cycled = true
      ctx?.setBusy(id, false)
    }
    if (n > 1) timer = setTimeout(step, dwellFor(n, rotateMs))
  }
  let active = true
  function arm(n: number): void {
    if (index.value >= n) index.value = 0
    const dwell = dwellFor(n, rotateMs)
    if (dwell <= 0 || !active) {
      stop()
      if (dwell <= 0) index.value = 0
      ctx?.setBusy(id, false)
    } else if (timer === null) {
      if (!cycled) ctx?.setBusy(id, true)
      timer = setTimeout(step, dwell)
    }
  }
  watch(count, arm, { immediate: true })
  // A page taken off the screen and kept (KeepAlive) stops turning; back on, it starts again at 1.
  onDeactivated(() => {
    active = false
    stop()
    ctx?.setBusy(id, false)
  })
  onActivated(() => {
    if (active) return
    active = true
    index.value = 0
    cycled = false
    arm(count.value)
  })
  onBeforeUnmount(() => {
    stop()
    ctx?.setBusy(id, false)
  })
  return { index, count, rows: computed(() => pages.value[Math.min(index.value, pages.value.length - 1)] ?? []) }
}

/** Rows cut into pages of `size`. */
export function chunk<T>(rows: readonly T[], size: number): T[][] {
  const per = Math.max(1, Math.floor(size))
  const out: T[][] = []
  for (let i = 0; i < rows.length; i += per) out.push(rows.slice(i, i + per))
  return out.length > 0 ? out : [[]]
}
