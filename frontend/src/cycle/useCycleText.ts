import { useI18n } from 'vue-i18n'
import { ApiError } from '../api/client'
import type { Month } from '../api/types'
import { monthParts } from './months'

/** Words of the monthly cycle: months as offices write them, and API errors in the reader's language. */
export function useCycleText() {
  const { t, te, locale } = useI18n()

  /** "2022年10月" / "Oct 2022". */
  function monthLabel(m: Month): string {
    if (!m) return ''
    const { year, num } = monthParts(m)
    return t('month.label', { year, month: num, name: t(`month.names.${num}`) })
  }

  /** "截至 2022年10月" */
  function asOf(m: Month): string {
    return t('month.asOf', { month: monthLabel(m) })
  }

  /** An API error as the reader should see it: the server's Chinese where there is one, known codes by name. */
  function errorText(e: unknown): string {
    if (e instanceof ApiError) {
      if (locale.value !== 'en' && e.messageZh) return e.messageZh
      if (te(`apiError.${e.code}`)) return t(`apiError.${e.code}`)
      return e.message
    }
    return e instanceof Error ? e.message : String(e)
  }

  return { monthLabel, asOf, errorText }
}
