import { afterEach, describe, expect, it, vi } from 'vitest'
import { api } from '../src/api/client'
import { AUDIT_TYPES } from '../src/api/types'
import { tokenActor } from '../src/composables/labels'
import en from '../src/i18n/en'
import zh from '../src/i18n/zh-CN'

/** The message at a dotted key, as vue-i18n resolves it. */
function lookup(messages: object, key: string): unknown {
  return key.split('.').reduce<unknown>((m, k) => (typeof m === 'object' && m !== null ? (m as Record<string, unknown>)[k] : undefined), messages)
}

describe('audit types', () => {
  it('every type has a label in both languages', () => {
    for (const type of AUDIT_TYPES) {
      for (const [name, messages] of [['zh-CN', zh], ['en', en]] as const) {
        const label = lookup(messages, `audit.types.${type}`)
        expect(typeof label, `${name} audit.types.${type}`).toBe('string')
      }
    }
  })
})

describe('tokenActor', () => {
  it('tells an api token from a person', () => {
    expect(tokenActor('token:lobby-script')).toBe('lobby-script')
    expect(tokenActor('token:')).toBe('')
    expect(tokenActor('admin')).toBeNull()
    expect(tokenActor('tokenfan')).toBeNull()
    expect(tokenActor('cli')).toBeNull()
  })
})

describe('api.audit', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('sends only the filters that are set and returns the events', async () => {
    const events = [{ seq: 7, at: '2026-01-02T03:04:05Z', type: 'login.ok', actor: 'admin', addr: '127.0.0.1' }]
    const fetchMock = vi.fn().mockResolvedValue(new Response(JSON.stringify({ events }), { status: 200 }))
    vi.stubGlobal('fetch', fetchMock)
    await expect(api.audit({ before: 40, limit: 50, type: 'login.failed', actor: '', q: '10.0.0.1' })).resolves.toEqual(events)
    const url = new URL(String(fetchMock.mock.calls[0]![0]), 'http://x')
    expect(url.pathname).toBe('/api/audit')
    expect(Object.fromEntries(url.searchParams)).toEqual({ before: '40', limit: '50', type: 'login.failed', q: '10.0.0.1' })
  })

  it('asks for the newest events without parameters', async () => {
    const fetchMock = vi.fn().mockResolvedValue(new Response(JSON.stringify({ events: [] }), { status: 200 }))
    vi.stubGlobal('fetch', fetchMock)
    await expect(api.audit()).resolves.toEqual([])
    expect(fetchMock.mock.calls[0]![0]).toBe('/api/audit')
  })
})
