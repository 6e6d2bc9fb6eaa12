import { afterEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, UNAVAILABLE_RETRIES } from '../src/api/client'

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === null ? null : JSON.stringify(body), { status, headers })
}

const unavailable = () =>
  answer(503, { error: { code: 'unavailable', message: 'the database is unavailable for a moment' } }, { 'Retry-After': '1' })

describe('request retries', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.useRealTimers()
  })

  it('sends an edit again after 503 unavailable (nothing was changed) and returns the answer', async () => {
    vi.useFakeTimers()
    const project = { id: 'P1', version: 3 }
    const fetchMock = vi.fn().mockResolvedValueOnce(unavailable()).mockResolvedValueOnce(answer(200, project))
    vi.stubGlobal('fetch', fetchMock)
    const p = api.patchProject('P1', 2, { progress: 40 })
    await vi.runAllTimersAsync()
    await expect(p).resolves.toEqual(project)
    expect(fetchMock).toHaveBeenCalledTimes(2)
    const second = fetchMock.mock.calls[1] as [string, RequestInit]
    expect((second[1].headers as Record<string, string>)['If-Match']).toBe('"2"')
  })

  it('gives up after a bounded number of tries with the API error', async () => {
    vi.useFakeTimers()
    const fetchMock = vi.fn().mockImplementation(() => Promise.resolve(unavailable()))
    vi.stubGlobal('fetch', fetchMock)
    const p = api.patchProject('P1', 2, { progress: 40 })
    const caught = p.catch((e: unknown) => e)
    await vi.runAllTimersAsync()
    const err = await caught
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).status).toBe(503)
    expect(fetchMock).toHaveBeenCalledTimes(UNAVAILABLE_RETRIES + 1)
  })

  it('does not send again on other errors or when the answer was lost', async () => {
    const conflict = vi.fn().mockResolvedValue(answer(412, { error: { code: 'version_mismatch', message: 'changed' } }))
    vi.stubGlobal('fetch', conflict)
    await expect(api.patchProject('P1', 2, { progress: 40 })).rejects.toMatchObject({ status: 412 })
    expect(conflict).toHaveBeenCalledTimes(1)

    const lost = vi.fn().mockRejectedValue(new TypeError('network error'))
    vi.stubGlobal('fetch', lost)
    await expect(api.patchProject('P1', 2, { progress: 40 })).rejects.toThrow('network error')
    expect(lost).toHaveBeenCalledTimes(1)
  })
})
