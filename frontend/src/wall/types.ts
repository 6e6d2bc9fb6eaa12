// Types of the wall screen (大屏) alone: what the URL asks for and the rows its pages show.
// The API's own types stay in api/types.ts.
import type { Category, ProblemStatus, ReportStatus, WarningLevel, WarningRule } from '../api/types'

/** The pages the wall rotates through, in their default order. */
export type WallPage = 'overview' | 'warnings' | 'problems' | 'units'
export const WALL_PAGES: readonly WallPage[] = ['overview', 'warnings', 'problems', 'units']

/** A daily window in local time, minutes after midnight; `from > to` runs across midnight. */
export interface DimWindow {
  from: number
  to: number
}

/** What the wall's URL asks for (wall/options.ts reads it). */
export interface WallOptions {
  /** The pages in rotation order, at least one. */
  pages: WallPage[]
  /** How long a page (or a set of pages side by side) stays; 0 = no rotation at all. */
  rotateMs: number
  /** Seconds offline after which the figures are greyed out as stale; 0 = never. */
  staleSeconds: number
  /** Burn-in protection: the layout moves by a few pixels in a slow cycle. */
  shift: boolean
  dim: DimWindow | null
  /** The dim overlay's opacity (0–0.95). */
  dimOpacity: number
  /** Show only this unit's (责任单位) projects, problems and figures. */
  department: string | null
  category: Category | null
  /** Pages side by side; null = as many 16:9 areas as the screen holds. */
  slots: number | null
}

/** One project of the 预警 page. */
export interface WarningRow {
  id: string
  name: string
  department: string
  leader: string
  level: Exclude<WarningLevel, 'green'>
  /** The worst reason in words, one line. */
  reason: string
  /** Every reason, for the hover text. */
  reasons: string
  /** When the project reached its level (ms since the epoch); 0 if unknown. */
  since: number
  /** Whole days at this level on the server's date; null if unknown. */
  days: number | null
}

/** One line of the 问题台账 page: a unit's heading or one of its open problems. */
export type ProblemLine =
  | { kind: 'unit'; key: string; unit: string; open: number; overdue: number; continued: boolean }
  | {
      kind: 'problem'
      key: string
      id: string
      unit: string
      projectName: string
      description: string
      leader: string
      status: Exclude<ProblemStatus, 'resolved'>
      /** Whole days since it was raised. */
      age: number
      due: string
      /** Whole days past its due date; 0 when not overdue. */
      overdueDays: number
    }

/** 红黄绿 of a unit on the 责任单位 page (docs/metrics.md, "Wall traffic light"). */
export type UnitLight = 'green' | 'yellow' | 'red'

/** One row of the 责任单位 page. */
export interface UnitRow {
  department: string
  projects: number
  /** Planned projects' 开复工 (started) over 计划开复工 (due); rate null when none is due. */
  started: number
  startDue: number
  startRate: number | null
  annualPlanYuan: number
  completedYuan: number
  /** 投资完成率; null without an annual plan. */
  investmentRate: number | null
  /** (投资完成率 − 序时进度) × 100; null without an annual plan. */
  gapPoints: number | null
  red: number
  yellow: number
  openProblems: number
  /** This month's report status; null when the unit reports nothing (no construction projects). */
  report: ReportStatus | null
  reportDone: number
  reportTotal: number
  light: UnitLight
  /** Why the light is not green, as rule keys for the hover text. */
  why: ('redProject' | 'yellowProject' | 'paceRed' | 'paceYellow')[]
  /** The points behind 序时进度 that make it yellow and red. */
  pace: { yellow: number; red: number }
}

/** What a ticker line is about: only the changes a leader cares about reach the wall. */
export type TickerTone = 'created' | 'stage' | 'red' | 'raised' | 'resolved'

export interface TickerItem {
  rev: number
  at: string
  projectId: string
  projectName: string
  /** The project's unit and category when the change arrived (for narrowing). */
  department: string
  category: Category | ''
  by: string
  tone: TickerTone
  /** The stage move, the red rules or the problem's text. */
  from?: string
  to?: string
  rules?: WarningRule[]
  text?: string
}
