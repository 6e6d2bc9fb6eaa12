// Mirrors docs/api.md exactly. Money is integer yuan, rates are fractions (1 = 100 %),
// dates "YYYY-MM-DD" or null, timestamps RFC 3339 UTC.

export type Role = 'admin' | 'editor' | 'viewer'
export type TokenKind = 'display' | 'api'
export type TokenRole = Role | 'display'

export interface User {
  username: string
  displayName: string
  role: Role
  departments: string[]
  createdAt: string
}

export interface Token {
  id: string
  name: string
  kind: TokenKind
  role: TokenRole
  /** The account an api token belongs to and acts as; display tokens have none. */
  owner?: string
  createdAt: string
  /** The admin who created the token. */
  createdBy: string
}

/** POST /api/tokens answer: the secret is shown this once. */
export interface CreatedToken extends Token {
  token: string
}

export type Category = 'planned' | 'unplanned' | 'attraction'
export type Stage =
  | 'negotiating'
  | 'signed'
  | 'landed'
  | 'preparing'
  | 'under_construction'
  | 'completed'
  | 'operating'

export const STAGES: readonly Stage[] = [
  'negotiating',
  'signed',
  'landed',
  'preparing',
  'under_construction',
  'completed',
  'operating',
]
export const ATTRACTION_STAGES: readonly Stage[] = ['negotiating', 'signed', 'landed']
export const CONSTRUCTION_STAGES: readonly Stage[] = ['preparing', 'under_construction', 'completed', 'operating']
export const CATEGORIES: readonly Category[] = ['planned', 'unplanned', 'attraction']

export interface Project {
  id: string
  name: string
  category: Category
  year: number
  sector: string
  department: string
  leader: string
  stage: Stage
  investmentYuan: number
  annualPlanYuan: number
  investmentCompletedYuan: number
  progress: number
  plannedStart: string | null
  startedAt: string | null
  /** 复工: when a continuing project (started before its year) restarted within its year. */
  resumedAt: string | null
  plannedCompletion: string | null
  completedAt: string | null
  onHold: boolean
  note: string
  /** The project's entry in the year before, when "start the year's lists" carried it over (续建). */
  carriedFrom?: string
  /** The traffic light (红黄绿) with its reasons, computed by the server; never set by an edit. */
  warning: Warning
  /** Unresolved problems of the 问题台账. */
  openProblems: number
  version: number
  updatedAt: string
  updatedBy: string
}

/** Fields of a Project the server computes; no PATCH or POST carries them. */
export type ComputedProjectField = 'warning' | 'openProblems' | 'carriedFrom'

/**
 * Fields a PATCH may carry (any Project field but id, version, updatedAt, updatedBy) plus a
 * comment and the effective date of a stage move (YYYY-MM-DD; absent or null = today in
 * Asia/Shanghai). Neither is stored on the project.
 */
export type ProjectPatch = Partial<Omit<Project, 'id' | 'version' | 'updatedAt' | 'updatedBy' | ComputedProjectField>> & {
  comment?: string
  effectiveDate?: string | null
}

export interface FieldChange {
  from: unknown
  to: unknown
}

/**
 * report / problem: projectId is the project, the event's project the project after (maybe
 * unchanged); month / settings: projectId "" and project null.
 */
export type ChangeKind = 'create' | 'update' | 'delete' | 'report' | 'problem' | 'month' | 'settings'

export interface Change {
  rev: number
  projectId: string
  projectName: string
  at: string
  /** A username, or "token:<name>" for an api token (a username never contains ':'). */
  by: string
  kind: ChangeKind
  fields: Record<string, FieldChange>
  comment: string
  /** What a report, problem, month or settings change was about: "YYYY-MM", the problem id, or "warnings". */
  key?: string
}

export interface Tally {
  count: number
  investmentYuan: number
}

export interface Bucket extends Tally {
  key: string
  annualPlanYuan: number
  investmentCompletedYuan: number
  /** Construction projects started or restarted within their year (dated). */
  started: number
  /** Construction projects completed within their year (dated). */
  completed: number
  /** Planned and unplanned projects: those that report monthly. */
  construction: number
  /** Projects whose warning is yellow / red. */
  yellow: number
  red: number
  openProblems: number
}

/** Starts, restarts and completions dated within each project's year (docs/metrics.md). */
export interface ConstructionTally extends Tally {
  /** 开复工 = newStarts + restarts */
  started: number
  newStarts: number
  restarts: number
  completed: number
}

export interface PlannedTally extends ConstructionTally {
  /** 计划开复工 = newStartDue + restartDue */
  startDue: number
  newStartDue: number
  restartDue: number
  /** 开复工率 = started / startDue; may exceed 1. */
  startRate: number
  /** 开工率 = newStarts / newStartDue; may exceed 1. */
  newStartRate: number
}

export interface Summary {
  rev: number
  year: number | null
  total: Tally
  planned: PlannedTally
  unplanned: ConstructionTally
  attraction: Tally & { negotiating: Tally; signed: Tally; landed: Tally }
  /** 竣工率's numerator and denominator; notDue: completions of projects not due in the year. */
  completion: { completed: number; due: number; notDue: number }
  completionRate: number
  /** gapPoints = (completionRate − elapsedShare) × 100: points ahead of 序时进度. */
  investment: { annualPlanYuan: number; completedYuan: number; completionRate: number; gapPoints: number }
  /** 序时进度 = elapsedMonths / 12. */
  elapsedShare: number
  elapsedMonths: number
  byStage: Bucket[]
  byCategory: Bucket[]
  bySector: Bucket[]
  byDepartment: Bucket[]
  /** Projects by warning level. */
  warnings: WarningCounts
  /** The 问题台账 of the projects summarised. */
  problems: ProblemCounts
  /** Report status per unit of the month being reported; null for a summary of another year. */
  reporting: Reporting | null
}

export interface WarningCounts {
  green: number
  yellow: number
  red: number
}

export interface Meta {
  build: string
  epoch: string
  rev: number
  zone: string
  stages: Stage[]
  categories: Category[]
  /**
   * The server's clock (RFC 3339), which `serve --clock` moves; absent from servers that do
   * not send it (the browser's clock is used then).
   */
  now?: string
}

// Audit log (GET /api/audit, admin only).
export type AuditType =
  | 'login.ok'
  | 'login.failed'
  | 'login.throttled'
  | 'logout'
  | 'user.created'
  | 'user.changed'
  | 'user.role_changed'
  | 'user.password_changed'
  | 'user.deleted'
  | 'token.created'
  | 'token.deleted'
  | 'token.revoked'
  | 'backup.downloaded'
  | 'restore'
  | 'screens.reloaded'
  | 'month.closed'
  | 'month.reopened'
  | 'settings.changed'
  | 'year.started'
  | 'webhook.tested'

/** Every audit type, in the server's order (store.AuditTypes, then the monthly cycle's and the webhooks'). */
export const AUDIT_TYPES: readonly AuditType[] = [
  'login.ok',
  'login.failed',
  'login.throttled',
  'logout',
  'user.created',
  'user.changed',
  'user.role_changed',
  'user.password_changed',
  'user.deleted',
  'token.created',
  'token.deleted',
  'token.revoked',
  'backup.downloaded',
  'restore',
  'screens.reloaded',
  'month.closed',
  'month.reopened',
  'settings.changed',
  'year.started',
  'webhook.tested',
]

export interface AuditEvent {
  seq: number
  at: string
  type: AuditType
  /**
   * A username, "token:<name>" for an api token, "cli" for the command line, or, for the
   * login types, the name that was tried (anything at all).
   */
  actor: string
  addr?: string
  target?: string
  detail?: string
}

export interface ApiErrorBody {
  /** messageZh: the message in Chinese, where the server has one (domain rules, file refusals). */
  error: { code: string; message: string; messageZh?: string; field?: string }
  /** With 412: the current value (a project, report, problem, month or the warning rules). */
  current?: unknown
  /** With a refused reports import (403, 409): the dry run's answer of the file as it was read. */
  result?: unknown
}

// Live feed (GET /ws), server → client.
export interface HelloMessage {
  type: 'hello'
  epoch: string
  rev: number
  build: string
}
export interface SnapshotMessage {
  type: 'snapshot'
  rev: number
  projects: Project[]
  summary: Summary
}
/**
 * A committed change (docs/api.md, "The live feed"). A new project comes whole (`project`),
 * a changed one as the members that moved (`projectPatch`: always its version and warning, and
 * updatedAt and updatedBy unless they are the change's `at` and `by`, as after an edit), a
 * deleted one, or a change of no project, as `project: null`. The
 * last change of a commit carries the summary's cells that moved (`summaryDelta`) or, where
 * a delta cannot say it, the whole `summary`.
 */
export interface ChangeMessage {
  type: 'change'
  rev: number
  change: Change
  project?: Project | null
  projectPatch?: Partial<Project> & { version: number }
  summary?: Summary
  summaryDelta?: SummaryDelta
}

/**
 * What moved in the summary: apply only on top of the summary at revision `from`.
 * `set`: top-level members that moved (an object: its members that moved, merged in);
 * `lists`: entries of byStage, byCategory, bySector, byDepartment (by `key`) and
 * reporting.units (by `department`) with their fields that moved, or whole when new;
 * `order`: a list's keys, when an entry came, went or moved.
 */
export interface SummaryDelta {
  from: number
  rev: number
  set?: Partial<Record<keyof Summary, unknown>>
  lists?: Record<string, Record<string, unknown>[]>
  order?: Record<string, string[]>
}
export interface ReloadMessage {
  type: 'reload'
}
export type ServerMessage = HelloMessage | SnapshotMessage | ChangeMessage | ReloadMessage

/** Close codes of /ws. */
export const CLOSE_GOING_AWAY = 1001
export const CLOSE_FELL_BEHIND = 4008
export const CLOSE_UNAUTHORIZED = 4001

// New projects (POST /api/projects): the required fields, any other Project field, an
// optional id (generated when absent) and a comment for the change log.
export type NewProject = Pick<Project, 'name' | 'category' | 'year' | 'sector' | 'department' | 'stage'> &
  Partial<Omit<Project, 'name' | 'category' | 'year' | 'sector' | 'department' | 'stage' | 'version' | 'updatedAt' | 'updatedBy'>> & {
    comment?: string
  }

// Import (POST /api/imports?dryRun=true, POST /api/imports/{id}/apply).
export type ImportStatus = 'create' | 'update' | 'unchanged' | 'error'
export const IMPORT_STATUSES: readonly ImportStatus[] = ['create', 'update', 'unchanged', 'error']

export interface ImportError {
  /** The column's header as the sheet has it, e.g. "总投资". */
  column: string
  /** The column letter, e.g. "G". */
  letter?: string
  /** The Project field the column maps to. */
  field?: string
  /** In Chinese, naming row and column: "第 12 行「总投资」：不能为负数". */
  message: string
  messageEn: string
}

export interface ImportRow {
  /** The row number in the sheet, as the office sees it. */
  row: number
  status: ImportStatus
  projectId?: string
  name?: string
  changes?: Record<string, FieldChange>
  errors?: ImportError[]
}

export interface ImportNote {
  /** The sheet row it concerns; absent when it concerns no single row. */
  row?: number
  /** Chinese. */
  message: string
  messageEn: string
}

export interface ImportColumn {
  letter: string
  header: string
  field: string
  /** 元 / 万元 / 亿元 for money columns, taken from the header. */
  unit?: string
}

export type ImportCounts = Record<ImportStatus, number>

export interface ImportResult {
  id: string
  fileName: string
  format: string
  sheet?: string
  headerRow: number
  year: number
  columns: ImportColumn[]
  /** Headers that match no field: ignored. */
  unmatched: string[]
  counts: ImportCounts
  /** Things about the file that are not errors: columns read past, rows skipped. */
  notes: ImportNote[]
  rows: ImportRow[]
  /** The dry run can be applied until then (RFC 3339). */
  expiresAt: string
}

export interface ImportApplied {
  rev: number
  counts: ImportCounts
}

// Export (GET /api/export/…): downloads.
export type ExportFormat = 'xlsx' | 'csv'

// ---- The monthly cycle (issue 12; store/{month,report,problem,warning,cycle}.go) ----

/** A calendar month "YYYY-MM" of the zone's time. */
export type Month = string

export type WarningLevel = 'green' | 'yellow' | 'red'
export const WARNING_LEVELS: readonly WarningLevel[] = ['green', 'yellow', 'red']

export type WarningRule =
  | 'investmentPace'
  | 'progressPace'
  | 'notStarted'
  | 'completionOverdue'
  | 'reportMissing'
  | 'consecutiveYellow'
  | 'problemOverdue'

/** One rule that fired: what it measured, against which threshold, with the figures its sentence quotes (cycle/reasons.ts writes it). */
export interface WarningReason {
  rule: WarningRule
  level: WarningLevel
  /** Left out when 0. */
  value?: number
  /** Left out when 0. */
  threshold?: number
  /** "points", "months", "count"; left out when none */
  unit?: string
  /** The figure compared: 投资完成率 or 形象进度 in per cent (investmentPace, progressPace). */
  actual?: number
  /** The construction period's months gone and in all (progressPace). */
  elapsed?: number
  span?: number
  /** Planned start (notStarted), planned completion (completionOverdue), deadline (reportMissing). */
  date?: string
  /** The month whose report is missing (reportMissing). */
  month?: string
  /** The sentences a reason stored before reasons carried their figures (a month closed then). */
  zh?: string
  en?: string
}

export interface Warning {
  level: WarningLevel
  /** Empty when green. */
  reasons: WarningReason[]
  /** When the project reached this level (RFC 3339); absent for a project never graded. */
  since?: string
}

export interface PointsRule {
  enabled: boolean
  yellowPoints: number
  redPoints: number
}
export interface MonthsRule {
  enabled: boolean
  yellowMonths: number
  redMonths: number
}
export interface LevelRule {
  enabled: boolean
  level: WarningLevel
}
export interface ReportRule extends LevelRule {
  /** The report of month M is due on this day of M+1 (1–28). */
  deadlineDay: number
}
export interface ConsecutiveRule {
  enabled: boolean
  months: number
}

/** GET|PUT /api/settings/warnings. */
export interface WarningRules {
  version: number
  investmentPace: PointsRule
  progressPace: PointsRule
  notStarted: MonthsRule
  completionOverdue: LevelRule
  reportMissing: ReportRule
  consecutiveYellow: ConsecutiveRule
  problemOverdue: LevelRule
  updatedAt: string | null
  updatedBy: string
}

export type MonthStatus = 'open' | 'closed'

export interface MonthEvent {
  action: 'close' | 'reopen'
  by: string
  at: string
  reason?: string
  snapshot?: number
}

export interface MonthState {
  month: Month
  status: MonthStatus
  /** The reports' deadline, YYYY-MM-DD. */
  deadline: string
  /** Numbers the frozen figures of the latest close; 0 if never closed. */
  snapshot: number
  closedAt: string | null
  closedBy: string
  history: MonthEvent[] | null
  /** 0 for a month never closed. */
  version: number
}

export type ReportStatus = 'missing' | 'submitted' | 'returned' | 'approved'
export const REPORT_STATUSES: readonly ReportStatus[] = ['missing', 'submitted', 'returned', 'approved']

export interface Report {
  projectId: string
  month: Month
  monthYuan: number
  /** The year's completed investment before the month. */
  openingYuan: number
  /** openingYuan + monthYuan */
  cumulativeYuan: number
  progress: number
  progressText: string
  problemsText: string
  status: ReportStatus
  reportedBy: string
  reportedAt: string
  late: boolean
  reviewedBy: string
  reviewedAt: string | null
  returnReason: string
  version: number
}

export interface ReportInput {
  monthYuan: number
  progress: number
  progressText: string
  problemsText: string
}

/** One project of POST /api/months/{m}/reports; ifMatch is the report's version (0 = new). */
export interface ReportSubmission extends ReportInput {
  projectId: string
  ifMatch: number
}

export interface UnitReport {
  department: string
  projects: number
  submitted: number
  returned: number
  approved: number
  missing: number
  status: ReportStatus
}

export interface Reporting {
  month: Month
  deadline: string
  status: MonthStatus
  units: UnitReport[] | null
}

export interface ReportRow {
  project: Project
  report: Report | null
}

/** GET /api/months/{m}/reports */
export interface MonthReports {
  month: Month
  deadline: string
  status: MonthStatus
  units: UnitReport[] | null
  rows: ReportRow[] | null
}

// Monthly reports import (POST /api/imports/reports?dryRun=true|false; server/reportsheet.go).
/** What a row of a reports workbook does: the same four as a project import's rows. */
export type ReportImportAction = ImportStatus

/** An error of a row or of a whole sheet. */
export interface ReportImportError {
  /** invalid_value (a cell), not_found, not_in_year, forbidden, duplicate, report_state, month_closed;
   * for a whole sheet: unknown_month, duplicate_month, no_header, month_not_begun, month_closed. */
  code: string
  /** The cell's column as the sheet has it, e.g. "本月完成投资（万元）", and its letter. */
  column?: string
  letter?: string
  field?: string
  /** Chinese, naming the row and the column: "第 12 行「本月完成投资（万元）」：不是数字（一百）". */
  message: string
  messageEn: string
}

export interface ReportImportRow {
  /** The row number in the sheet. */
  line: number
  projectId?: string
  projectName?: string
  action: ReportImportAction
  /** The report the row would submit (absent on an error). */
  input?: ReportInput
  /** The month's report as it is (absent when there is none). */
  before?: ReportInput
  /** The report's status before the import. */
  status?: ReportStatus
  errors: ReportImportError[]
}

/** One worksheet: one month. */
export interface ReportImportSheet {
  sheet: string
  month?: Month
  monthStatus?: MonthStatus
  headerRow?: number
  columns: ImportColumn[]
  unmatched: string[]
  notes: ImportNote[]
  /** The sheet refused whole (its rows are not read, except a closed month's). */
  error: ReportImportError | null
  counts: ImportCounts
  rows: ReportImportRow[]
}

export interface ReportImportResult {
  fileName: string
  dryRun: boolean
  /** dryRun=false and every report written. */
  applied: boolean
  counts: ImportCounts
  sheets: ReportImportSheet[]
}

export interface ProjectFigures {
  id: string
  name: string
  category: Category
  sector: string
  department: string
  leader: string
  stage: Stage
  investmentYuan: number
  annualPlanYuan: number
  investmentCompletedYuan: number
  monthYuan: number
  progress: number
  warning: Warning
  report: ReportStatus
  openProblems: number
}

/** GET /api/months/{m}/summary: frozen when the month is closed, live otherwise. */
export interface MonthView {
  month: Month
  status: MonthStatus
  /** 0 for an open month's live figures. */
  snapshot: number
  closedAt: string | null
  closedBy: string
  rev: number
  summary: Summary
  projects: ProjectFigures[]
  units: UnitReport[]
}

export type DeltaStatus = 'added' | 'removed' | 'changed'

export interface ProjectDelta {
  id: string
  name: string
  status: DeltaStatus
  fields: Record<string, FieldChange> | null
}

export interface TotalDelta {
  /** e.g. "investment.completedYuan", "planned.startRate" */
  key: string
  from: number
  to: number
  delta: number
}

/** GET /api/months/{m}/compare?with= */
export interface MonthComparison {
  month: Month
  with: Month
  kind: 'mom' | 'yoy' | 'other'
  totals: TotalDelta[]
  projects: ProjectDelta[]
  counts: { added: number; removed: number; changed: number; unchanged: number }
}

export interface TrendPoint {
  month: Month
  closed: boolean
  completionRate: number
  elapsedShare: number
  completedYuan: number
  annualPlanYuan: number
}

/** GET /api/months?year= */
export interface MonthsOfYear {
  year: number
  months: MonthState[]
  trend: TrendPoint[] | null
}

export interface YearInfo {
  year: number
  projects: number
  construction: number
  carried: number
  current: boolean
}

/** GET /api/years */
export interface Years {
  current: number
  years: YearInfo[] | null
}

export type ProblemStatus = 'pending' | 'coordinating' | 'resolved'
export const PROBLEM_STATUSES: readonly ProblemStatus[] = ['pending', 'coordinating', 'resolved']

export interface ProblemEvent {
  at: string
  by: string
  kind: 'raised' | 'updated'
  fields: Record<string, FieldChange> | null
  rev: number
}

export interface Problem {
  id: string
  projectId: string
  projectName: string
  /** The project's responsible unit. */
  department: string
  description: string
  raisedBy: string
  raisedAt: string
  /** The unit that must act. */
  unit: string
  /** The coordinating leader. */
  leader: string
  status: ProblemStatus
  /** YYYY-MM-DD or "" */
  due: string
  resolution: string
  resolvedAt: string | null
  resolvedBy: string
  version: number
  updatedAt: string
  updatedBy: string
  /** Oldest first; the first entry is the raise. */
  history: ProblemEvent[]
}

export interface NewProblem {
  description: string
  unit: string
  leader: string
  due: string
}

export type ProblemPatch = Partial<{
  description: string
  unit: string
  leader: string
  status: ProblemStatus
  due: string
  resolution: string
}>

export interface ProblemCounts {
  open: number
  overdue: number
  resolved: number
}
