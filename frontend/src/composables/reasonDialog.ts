import { ref, type Ref } from 'vue'

/**
 * A modal <dialog> that asks for a reason before a step on one item (returning a report,
 * reopening a month): `ask(item)` opens it empty, `confirm(required, step)` checks that a
 * reason was typed, runs the step with it and closes, or shows the step's error in the dialog.
 */
export function useReasonDialog<T>() {
  const dialog = ref<HTMLDialogElement | null>(null)
  const target = ref<T | null>(null) as Ref<T | null>
  const reason = ref('')
  const reasonError = ref('')

  function ask(item: T): void {
    target.value = item
    reason.value = ''
    reasonError.value = ''
    dialog.value?.showModal()
  }

  async function confirm(required: string, step: (item: T, reason: string) => Promise<void>, errorText: (e: unknown) => string): Promise<void> {
    const item = target.value
    if (item === null) return
    const text = reason.value.trim()
    if (!text) {
      reasonError.value = required
      return
    }
    try {
      await step(item, text)
      dialog.value?.close()
      target.value = null
    } catch (e) {
      reasonError.value = errorText(e)
    }
  }

  return { dialog, target, reason, reasonError, ask, confirm }
}
