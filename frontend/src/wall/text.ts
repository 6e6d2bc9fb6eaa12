// Words the wall writes outside of i18n messages: warning reasons (from cycle/) and ticker lines.
import type { Project, WarningReason } from '../api/types'
import { reasonText } from '../cycle/months'

/**
 * A warning reason in the wall's language. The wall's only caller of cycle/months' reasonText,
 * so that a change of its signature is one line here.
 */
export function wallReason(r: WarningReason, locale: string, _project?: Project): string {
  return reasonText(r, locale)
}
