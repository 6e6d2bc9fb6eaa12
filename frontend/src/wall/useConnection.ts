import { computed, onBeforeUnmount, ref, watch, type ComputedRef } from 'vue'
import { disconnectedSince, status, unauthorized } from '../live'

/** Seconds offline before the banner shows. */
export const BANNER_AFTER_S = 5

export interface ConnectionAge {
  offlineSeconds: ComputedRef<number>
  showBanner: ComputedRef<boolean>
  /** The figures are greyed out: offline for staleSeconds, or the token was revoked. */
  stale: ComputedRef<boolean>
}

/** How long the wall has been without its server. Its one-second timer runs only while offline. */
export function useConnectionAge(staleSeconds: number): ConnectionAge {
  const now = ref(Date.now())
  let timer: ReturnType<typeof setInterval> | null = null
  function stop(): void {
    if (timer !== null) clearInterval(timer)
    timer = null
  }
  watch(
    status,
    (s) => {
      if (s === 'open') return stop()
      now.value = Date.now()
      if (timer === null) timer = setInterval(() => (now.value = Date.now()), 1000)
    },
    { immediate: true },
  )
  onBeforeUnmount(stop)
  const offlineSeconds = computed(() =>
    status.value === 'open' || disconnectedSince.value === null ? 0 : Math.max(0, Math.floor((now.value - disconnectedSince.value) / 1000)),
  )
  return {
    offlineSeconds,
    showBanner: computed(() => !unauthorized.value && offlineSeconds.value >= BANNER_AFTER_S),
    stale: computed(() => unauthorized.value || (staleSeconds > 0 && offlineSeconds.value >= staleSeconds)),
  }
}
