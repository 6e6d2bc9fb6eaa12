// GET /api/months/{m}/bulletin (server/bulletin.go): the XLSX bulletin's figures as JSON.
import type { Month, MonthStatus, ProjectFigures, ReportStatus } from '../api/types'

/** The totals of the bulletin (sheet.BulletinTotals); a rate without a denominator is null. */
export interface BulletinTotals {
  projects: number
  red: number
  yellow: number
  green: number
  planYuan: number
  monthYuan: number
  completedYuan: number
  /** 投资完成率 = completedYuan / planYuan. */
  investmentRate: number | null
  /** 序时进度; null in a unit's bulletin without the zone's figures. */
  elapsedShare: number | null
  elapsedMonths: number
  /** (investmentRate − elapsedShare) × 100: points ahead of 序时进度 (behind when negative). */
  gapPoints: number | null
  /** 开复工率 = started / startDue. */
  startRate: number | null
  started: number
  startDue: number
  /** 竣工率 = completed / completionDue. */
  completionRate: number | null
  completed: number
  completionDue: number
}

/** One 责任单位 line (sheet.BulletinUnit). */
export interface BulletinUnit {
  department: string
  projects: number
  submitted: number
  missing: number
  returned: number
  approved: number
  status: ReportStatus
  planYuan: number
  monthYuan: number
  completedYuan: number
  investmentRate: number | null
  red: number
  yellow: number
}

/** One 项目明细 line: the month's figures, 投资完成率 and 存在问题 of the month's report. */
export interface BulletinProject extends ProjectFigures {
  investmentRate: number | null
  problemsText: string
}

export interface Bulletin {
  month: Month
  status: MonthStatus
  /** 0 for an open month's live figures. */
  snapshot: number
  closedAt: string | null
  closedBy: string
  rev: number
  /** Set for one unit's bulletin. */
  department?: string
  /** The server's clock when the bulletin was put together (RFC 3339). */
  generatedAt: string
  title: { zh: string; en: string }
  totals: BulletinTotals
  units: BulletinUnit[]
  projects: BulletinProject[]
}
