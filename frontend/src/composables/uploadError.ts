// Why the server would not read an uploaded file at all, in the page's language: shared by the
// project import and the monthly reports import.
import { ApiError, MAX_IMPORT_BYTES } from '../api/client'
import { apiMessage } from './importResult'

type Translate = (key: string, params: Record<string, unknown>) => string

/** A file too large to send (the server answers 413 above the limit); null when it may go. */
export function tooLargeText(f: File, t: Translate): string | null {
  return f.size > MAX_IMPORT_BYTES ? t('import.tooLarge', { name: f.name }) : null
}

/** A whole-file refusal (413 too large, 422 not a readable sheet); null for any other error. */
export function fileRefusalText(e: unknown, name: string, t: Translate, locale: string): string | null {
  if (e instanceof ApiError && e.status === 413) return t('import.tooLarge', { name })
  if (e instanceof ApiError && e.status === 422) return t('import.badFile', { name, message: apiMessage(e, locale) ?? e.message })
  return null
}
