import { afterEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, downloads } from '../src/api/client'

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === null ? null : typeof body === 'string' ? body : JSON.stringify(body), { status, headers })
}

describe('import and export client', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('sends the dry run as a browser upload with the file in field "file"', async () => {
    const fetchMock = vi.fn().mockResolvedValue(answer(200, { id: 'imp1', counts: { create: 1, update: 0, unchanged: 0, error: 0 } }))
    vi.stubGlobal('fetch', fetchMock)
    const file = new Blob(['名称,阶段\n甲,在建\n'], { type: 'text/csv' })
    const r = await api.importDryRun(file, '项目表.csv', 2022)
    expect(r.id).toBe('imp1')
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit]
    expect(url).toBe('/api/imports?dryRun=true&year=2022')
    expect(init.method).toBe('POST')
    // The browser sets the multipart Content-Type with its boundary; we must not.
    expect((init.headers as Record<string, string>)['Content-Type']).toBeUndefined()
    const form = init.body as FormData
    const sent = form.get('file') as File
    expect(sent.name).toBe('项目表.csv')
    expect(await sent.text()).toBe('名称,阶段\n甲,在建\n')
  })

  it('applies with skipErrors only when asked', async () => {
    const fetchMock = vi.fn().mockImplementation(() => Promise.resolve(answer(200, { rev: 42, counts: { create: 1, update: 2, unchanged: 0, error: 0 } })))
    vi.stubGlobal('fetch', fetchMock)
    expect((await api.applyImport('imp 1')).rev).toBe(42)
    await api.applyImport('imp1', true)
    expect(fetchMock.mock.calls.map((c) => c[0])).toEqual(['/api/imports/imp%201/apply', '/api/imports/imp1/apply?skipErrors=true'])
  })

  it('gives the refusals their status and code, also when the body is not JSON', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(answer(409, { error: { code: 'import_stale', message: 'changed since the dry run' } })))
    await expect(api.applyImport('imp1')).rejects.toMatchObject({ status: 409, code: 'import_stale' })
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(answer(413, 'Request Entity Too Large')))
    const e = await api.importDryRun(new Blob(['x']), 'big.xlsx').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).status).toBe(413)
  })

  it('creates a project with a JSON body', async () => {
    const fetchMock = vi.fn().mockResolvedValue(answer(201, { id: 'P9' }))
    vi.stubGlobal('fetch', fetchMock)
    await api.createProject({ name: '甲', category: 'planned', year: 2022, sector: 's', department: 'd', stage: 'preparing' })
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit]
    expect(url).toBe('/api/projects')
    expect(JSON.parse(init.body as string)).toMatchObject({ name: '甲', stage: 'preparing' })
  })

  it('builds download links with the register filters, leaving out empty ones', () => {
    expect(downloads.projects('xlsx', { q: ' 数据 ', category: 'planned', stage: '', department: '经发局', year: null })).toBe(
      '/api/export/projects?format=xlsx&category=planned&department=%E7%BB%8F%E5%8F%91%E5%B1%80&q=%E6%95%B0%E6%8D%AE',
    )
    expect(downloads.projects('csv')).toBe('/api/export/projects?format=csv')
    expect(downloads.changes('xlsx', { project: 'P 1', from: '2022-01-01' })).toBe('/api/export/changes?format=xlsx&project=P+1&from=2022-01-01')
    expect(downloads.template()).toBe('/api/export/template')
    expect(downloads.importErrors('a/b')).toBe('/api/imports/a%2Fb/errors')
  })
})
