import { ApiError } from '../api/client'
import type { ApiErrorBody, Month } from '../api/types'
import type { Bulletin } from './types'

/** The month's bulletin, with the session cookie; an API error as ApiError. */
export async function fetchBulletin(month: Month, department?: string): Promise<Bulletin> {
  const q = department ? `?department=${encodeURIComponent(department)}` : ''
  const r = await fetch(`/api/months/${encodeURIComponent(month)}/bulletin${q}`, { headers: { Accept: 'application/json' } })
  const body: unknown = await r.json().catch(() => null)
  if (!r.ok) {
    const isError = typeof body === 'object' && body !== null && 'error' in body
    throw new ApiError(r.status, isError ? (body as ApiErrorBody) : null)
  }
  return body as Bulletin
}
