import type {
  ApiErrorBody,
  Month,
  MonthComparison,
  MonthReports,
  MonthState,
  MonthsOfYear,
  MonthView,
  NewProblem,
  Problem,
  ProblemCounts,
  ProblemPatch,
  ProblemStatus,
  Report,
  ReportImportResult,
  ReportInput,
  ReportSubmission,
  WarningRules,
  Years,
  AuditEvent,
  AuditType,
  Change,
  CreatedToken,
  ExportFormat,
  ImportApplied,
  ImportResult,
  Meta,
  NewProject,
  Project,
  ProjectPatch,
  Role,
  Summary,
  Token,
  TokenKind,
  TokenRole,
  User,
} from './types'

/** An error answer of the API, with the status and the JSON error body. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly field: string | undefined
  /** The message in Chinese, where the server has one (`message` is English). */
  readonly messageZh: string | undefined
  /** A project's 412 answer: the project as it is now. */
  readonly current: Project | undefined
  /** Any 412 answer's current value (a report, problem, month or the warning rules). */
  readonly currentValue: unknown
  /** A refused reports import's answer (403, 409): what each row of the file does. */
  readonly result: unknown
  readonly retryAfter: number | undefined

  constructor(status: number, body: ApiErrorBody | null, retryAfter?: number) {
    super(body?.error.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error.code ?? 'http_error'
    this.field = body?.error.field
    this.messageZh = body?.error.messageZh
    this.currentValue = body?.current
    this.result = body?.result
    this.current = body?.current as Project | undefined
    this.retryAfter = retryAfter
  }
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  if (typeof v !== 'object' || v === null || !('error' in v)) return false
  const e = (v as { error: unknown }).error
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
}

/** Bearer token of a wall screen opened with ?token=…; null when the page uses the session cookie. */
let bearer: string | null = null
export function setBearerToken(token: string | null): void {
  bearer = token
}
export function bearerToken(): string | null {
  return bearer
}

/** Called on any 401 from the API (session ended). */
let onUnauthorized: (() => void) | null = null
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn
}

interface RequestOptions {
  method?: string
  body?: unknown
  /** A browser upload (multipart); the browser sets its Content-Type. */
  form?: FormData
  headers?: Record<string, string>
}

/**
 * How often a request answered 503 `unavailable` is sent again. The server sends that answer
 * only when nothing was changed (the database file is being handed to an upgraded process, or
 * the disk is full), so sending it again is safe for every method; a request whose answer was
 * lost is never sent again, because it may have been applied.
 */
export const UNAVAILABLE_RETRIES = 3
const MAX_RETRY_WAIT_MS = 2000

async function request<T>(path: string, opts: RequestOptions = {}): Promise<{ data: T; headers: Headers }> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers }
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
  if (bearer) headers.Authorization = `Bearer ${bearer}`
  for (let attempt = 0; ; attempt++) {
    try {
      return await send<T>(path, opts, headers)
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 503 || e.code !== 'unavailable' || attempt >= UNAVAILABLE_RETRIES) throw e
      const wait = Math.min((e.retryAfter ?? 1) * 1000, MAX_RETRY_WAIT_MS) * (0.5 + Math.random() / 2)
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

async function send<T>(path: string, opts: RequestOptions, headers: Record<string, string>): Promise<{ data: T; headers: Headers }> {
  const res = await fetch(path, {
    method: opts.method ?? 'GET',
    headers,
    body: opts.form ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    credentials: 'same-origin',
    cache: 'no-store',
  })
  if (res.status === 204 || res.status === 202) {
    return { data: undefined as T, headers: res.headers }
  }
  let parsed: unknown = null
  const text = await res.text()
  if (text) {
    try {
      parsed = JSON.parse(text) as unknown
    } catch {
      parsed = null
    }
  }
  if (!res.ok) {
    const ra = res.headers.get('Retry-After')
    const err = new ApiError(res.status, isErrorBody(parsed) ? parsed : null, ra ? Number(ra) : undefined)
    if (res.status === 401 && path !== '/api/session' && path !== '/api/me' && onUnauthorized) onUnauthorized()
    throw err
  }
  return { data: parsed as T, headers: res.headers }
}

async function get<T>(path: string): Promise<T> {
  return (await request<T>(path)).data
}

function qs(params: Record<string, string | number | null | undefined>): string {
  const sp = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') sp.set(k, String(v))
  }
  const s = sp.toString()
  return s ? `?${s}` : ''
}

export interface SummaryFilter {
  year?: number | null
  category?: string | null
  department?: string | null
}

/** GET /api/audit: `since` gives the events after it oldest first, `before` the ones before it newest first, neither the newest first. */
export interface AuditQuery {
  since?: number
  before?: number
  limit?: number
  type?: AuditType | ''
  actor?: string
  q?: string
}

export interface ExportFilter {
  year?: number | null
  category?: string | null
  department?: string | null
  stage?: string | null
  sector?: string | null
  q?: string | null
}

export interface ChangesExportFilter {
  project?: string | null
  /** YYYY-MM-DD */
  from?: string | null
  /** YYYY-MM-DD */
  to?: string | null
}

/** The largest file the server takes for an import (it answers 413 above). */
export const MAX_IMPORT_BYTES = 20 * 1024 * 1024

/**
 * Download addresses. The session cookie goes with a plain link, so these are hrefs, not
 * fetches: the browser saves the file under the name the server gives.
 */
export const downloads = {
  projects: (format: ExportFormat, f: ExportFilter = {}) =>
    `/api/export/projects${qs({ format, year: f.year, category: f.category, department: f.department, stage: f.stage, sector: f.sector, q: f.q?.trim() })}`,
  changes: (format: ExportFormat, f: ChangesExportFilter = {}) =>
    `/api/export/changes${qs({ format, project: f.project, from: f.from, to: f.to })}`,
  template: () => '/api/export/template',
  importErrors: (id: string) => `/api/imports/${encodeURIComponent(id)}/errors`,
  /** A month's reports in the bulletin's layout. */
  reports: (month: string) => `/api/export/reports${qs({ month, format: 'xlsx' })}`,
  problems: (format: ExportFormat) => `/api/export/problems${qs({ format })}`,
  /** The month's reports template (XLSX), pre-filled; without a department an editor's own units. */
  reportTemplate: (month: string, department?: string) => `/api/export/report-template${qs({ month, department })}`,
}

/** GET /api/problems filters; empty ones are left out. */
export interface ProblemFilter {
  status?: ProblemStatus | ''
  /** The unit that must act. */
  unit?: string
  /** The project's responsible unit. */
  department?: string
  open?: boolean
  overdue?: boolean
  year?: number | null
  project?: string
}

const ifMatch = (version: number) => ({ 'If-Match': `"${version}"` })
const enc = encodeURIComponent

/** The monthly cycle's calls (docs/api.md, issue 12). */
export const cycle = {
  years: () => get<Years>('/api/years'),
  /** Admin: carry the unfinished projects of year − 1 over into year's lists. */
  startYear: (year: number) =>
    request<{ year: number; carried: number; projects: Project[] }>(`/api/years/${year}/start`, { method: 'POST', body: {} }).then((r) => r.data),
  months: (year: number) => get<MonthsOfYear>(`/api/months${qs({ year })}`),
  monthView: (m: Month) => get<MonthView>(`/api/months/${enc(m)}/summary`),
  compare: (m: Month, withMonth?: Month) => get<MonthComparison>(`/api/months/${enc(m)}/compare${qs({ with: withMonth })}`),
  /** version: the month's version, 0 for a month never closed. */
  closeMonth: (m: Month, version: number) =>
    request<MonthState>(`/api/months/${enc(m)}/close`, { method: 'POST', body: {}, headers: ifMatch(version) }).then((r) => r.data),
  reopenMonth: (m: Month, version: number, reason: string) =>
    request<MonthState>(`/api/months/${enc(m)}/reopen`, { method: 'POST', body: { reason }, headers: ifMatch(version) }).then((r) => r.data),

  monthReports: (m: Month, department?: string) => get<MonthReports>(`/api/months/${enc(m)}/reports${qs({ department })}`),
  /** All or nothing; a field error names "reports[i].field". */
  submitReports: (m: Month, reports: ReportSubmission[]) =>
    request<{ reports: Report[] }>(`/api/months/${enc(m)}/reports`, { method: 'POST', body: { reports } }).then((r) => r.data.reports),
  projectReports: (id: string) => get<{ reports: Report[] | null }>(`/api/projects/${enc(id)}/reports`).then((r) => r.reports ?? []),
  report: (id: string, m: Month) => get<Report>(`/api/projects/${enc(id)}/reports/${enc(m)}`),
  /** version 0: the report must not exist yet. */
  putReport: (id: string, m: Month, version: number, input: ReportInput) =>
    request<Report>(`/api/projects/${enc(id)}/reports/${enc(m)}`, { method: 'PUT', body: input, headers: ifMatch(version) }).then((r) => r.data),
  /**
   * A reports workbook (one sheet per month). dryRun: what each row would do, nothing written;
   * else all or nothing: a file with any error is refused (403 forbidden, 409 month_closed or
   * import_has_errors, with the dry run's answer as ApiError.result; 409 import_stale).
   */
  importReports: (file: Blob, fileName: string, dryRun: boolean) => {
    const form = new FormData()
    form.append('file', file, fileName)
    return request<ReportImportResult>(`/api/imports/reports${qs({ dryRun: String(dryRun) })}`, { method: 'POST', form }).then((r) => r.data)
  },
  approveReport: (id: string, m: Month, version: number) =>
    request<Report>(`/api/projects/${enc(id)}/reports/${enc(m)}/approve`, { method: 'POST', body: {}, headers: ifMatch(version) }).then((r) => r.data),
  returnReport: (id: string, m: Month, version: number, reason: string) =>
    request<Report>(`/api/projects/${enc(id)}/reports/${enc(m)}/return`, { method: 'POST', body: { reason }, headers: ifMatch(version) }).then(
      (r) => r.data,
    ),

  warningRules: () => get<WarningRules>('/api/settings/warnings'),
  /** Every field; If-Match is the rules' version. */
  putWarningRules: (rules: WarningRules) =>
    request<WarningRules>('/api/settings/warnings', { method: 'PUT', body: rules, headers: ifMatch(rules.version) }).then((r) => r.data),

  projectProblems: (id: string) => get<{ problems: Problem[] | null }>(`/api/projects/${enc(id)}/problems`).then((r) => r.problems ?? []),
  raiseProblem: (id: string, p: NewProblem) =>
    request<Problem>(`/api/projects/${enc(id)}/problems`, { method: 'POST', body: p }).then((r) => r.data),
  problems: (f: ProblemFilter = {}) =>
    get<{ problems: Problem[] | null; counts: ProblemCounts }>(
      `/api/problems${qs({
        status: f.status,
        unit: f.unit,
        department: f.department,
        open: f.open ? 1 : null,
        overdue: f.overdue ? 1 : null,
        year: f.year,
        project: f.project,
      })}`,
    ).then((r) => ({ problems: r.problems ?? [], counts: r.counts })),
  problem: (id: string) => get<Problem>(`/api/problems/${enc(id)}`),
  patchProblem: (id: string, version: number, patch: ProblemPatch) =>
    request<Problem>(`/api/problems/${enc(id)}`, { method: 'PATCH', body: patch, headers: ifMatch(version) }).then((r) => r.data),
}

export const api = {
  login: (username: string, password: string) =>
    request<{ user: User }>('/api/session', { method: 'POST', body: { username, password } }).then((r) => r.data.user),
  logout: () => request<void>('/api/session', { method: 'DELETE' }).then(() => undefined),
  me: () => get<{ user?: User; token?: Token }>('/api/me'),
  meta: () => get<Meta>('/api/meta'),

  projects: () => get<{ rev: number; projects: Project[] }>('/api/projects'),
  project: (id: string) => get<Project>(`/api/projects/${encodeURIComponent(id)}`),
  projectChanges: (id: string, limit = 50) =>
    get<{ changes: Change[] }>(`/api/projects/${encodeURIComponent(id)}/changes${qs({ limit })}`).then((r) => r.changes),
  patchProject: (id: string, version: number, patch: ProjectPatch) =>
    request<Project>(`/api/projects/${encodeURIComponent(id)}`, {
      method: 'PATCH',
      body: patch,
      headers: { 'If-Match': `"${version}"` },
    }).then((r) => r.data),
  createProject: (p: NewProject) => request<Project>('/api/projects', { method: 'POST', body: p }).then((r) => r.data),
  /** The dry run: the server reads the file, matches the rows and writes nothing. */
  importDryRun: (file: Blob, fileName: string, year?: number | null) => {
    const form = new FormData()
    form.append('file', file, fileName)
    return request<ImportResult>(`/api/imports${qs({ dryRun: 'true', year })}`, { method: 'POST', form }).then((r) => r.data)
  },
  /** Commits exactly what the dry run showed; skipErrors leaves out the rows with errors. */
  applyImport: (id: string, skipErrors = false) =>
    request<ImportApplied>(`/api/imports/${encodeURIComponent(id)}/apply${qs({ skipErrors: skipErrors ? 'true' : null })}`, {
      method: 'POST',
    }).then((r) => r.data),
  changes: (since: number, limit = 100) => get<{ changes: Change[] }>(`/api/changes${qs({ since, limit })}`).then((r) => r.changes),
  summary: (f: SummaryFilter = {}) => get<Summary>(`/api/summary${qs({ year: f.year, category: f.category, department: f.department })}`),

  users: () => get<{ users: User[] }>('/api/users').then((r) => r.users),
  createUser: (u: { username: string; password: string; displayName: string; role: Role; departments: string[] }) =>
    request<User>('/api/users', { method: 'POST', body: u }).then((r) => r.data),
  updateUser: (username: string, patch: Partial<{ password: string; displayName: string; role: Role; departments: string[] }>) =>
    request<User>(`/api/users/${encodeURIComponent(username)}`, { method: 'PATCH', body: patch }).then((r) => r.data),
  deleteUser: (username: string) =>
    request<void>(`/api/users/${encodeURIComponent(username)}`, { method: 'DELETE' }).then(() => undefined),

  tokens: () => get<{ tokens: Token[] }>('/api/tokens').then((r) => r.tokens),
  createToken: (t: { kind: TokenKind; name: string; role?: TokenRole }) =>
    request<CreatedToken>('/api/tokens', { method: 'POST', body: t }).then((r) => r.data),
  deleteToken: (id: string) => request<void>(`/api/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' }).then(() => undefined),
  audit: (f: AuditQuery = {}) =>
    get<{ events: AuditEvent[] }>(`/api/audit${qs({ since: f.since, before: f.before, limit: f.limit, type: f.type, actor: f.actor, q: f.q })}`).then((r) => r.events),
  reloadScreens: () => request<void>('/api/screens/reload', { method: 'POST', body: {} }).then(() => undefined),
}
