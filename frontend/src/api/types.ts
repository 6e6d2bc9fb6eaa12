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
  version: number
  updatedAt: string
  updatedBy: string
}

/**
 * Fields a PATCH may carry (any Project field but id, version, updatedAt, updatedBy) plus a
 * comment and the effective date of a stage move (YYYY-MM-DD; absent or null = today in
 * Asia/Shanghai). Neither is stored on the project.
 */
export type ProjectPatch = Partial<Omit<Project, 'id' | 'version' | 'updatedAt' | 'updatedBy'>> & {
  comment?: string
  effectiveDate?: string | null
}

export interface FieldChange {
  from: unknown
  to: unknown
}

export type ChangeKind = 'create' | 'update' | 'delete'

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
}

export interface Meta {
  build: string
  epoch: string
  rev: number
  zone: string
  stages: Stage[]
  categories: Category[]
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

/** Every audit type, in the server's order (store.AuditTypes). */
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
  current?: Project
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
export interface ChangeMessage {
  type: 'change'
  rev: number
  change: Change
  project: Project | null
  summary?: Summary
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
