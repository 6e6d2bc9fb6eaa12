import { onBeforeUnmount, ref, type Ref } from 'vue'

/** A ref with the current time, ticking once a second: one timer per caller. */
export function useNow(everyMs = 1000): Ref<number> {
  const now = ref(Date.now())
  const id = setInterval(() => (now.value = Date.now()), everyMs)
  onBeforeUnmount(() => clearInterval(id))
  return now
}
