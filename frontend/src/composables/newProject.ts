// The new-project form's draft and its conversion to the API body. Pure: unit-tested.
import {
  ATTRACTION_STAGES,
  CONSTRUCTION_STAGES,
  type Category,
  type NewProject,
  type Stage,
} from '../api/types'
import { wanToYuan } from '../format'

/** Stages a project of this category may be in: 洽谈/签约/落位, or 前期/在建/竣工/投产. */
export function stagesFor(category: Category): readonly Stage[] {
  return category === 'attraction' ? ATTRACTION_STAGES : CONSTRUCTION_STAGES
}

export type DateField = 'plannedStart' | 'startedAt' | 'resumedAt' | 'plannedCompletion' | 'completedAt'
/** 复工 (resumedAt) is for a continuing project restarted within its year. */
export const DATE_FIELDS: readonly DateField[] = ['plannedStart', 'startedAt', 'resumedAt', 'plannedCompletion', 'completedAt']

export type MoneyField = 'investmentYuan' | 'annualPlanYuan' | 'investmentCompletedYuan'
export const MONEY_FIELDS: readonly MoneyField[] = ['investmentYuan', 'annualPlanYuan', 'investmentCompletedYuan']

/** What the user typed: text as typed, money in 万元. */
export interface NewProjectDraft {
  id: string
  name: string
  category: Category
  year: string
  sector: string
  department: string
  leader: string
  stage: Stage
  /** 万元, keyed by the API's yuan field. */
  money: Record<MoneyField, string>
  progress: string
  dates: Record<DateField, string>
  onHold: boolean
  note: string
  comment: string
}

export function emptyDraft(year: number, department = '', category: Category = 'planned'): NewProjectDraft {
  return {
    id: '',
    name: '',
    category,
    year: String(year),
    sector: '',
    department,
    leader: '',
    stage: stagesFor(category)[0]!,
    money: { investmentYuan: '', annualPlanYuan: '', investmentCompletedYuan: '' },
    progress: '',
    dates: { plannedStart: '', startedAt: '', resumedAt: '', plannedCompletion: '', completedAt: '' },
    onHold: false,
    note: '',
    comment: '',
  }
}

/** Why a field cannot be sent; the server checks everything else and names the field itself. */
export type DraftProblem = 'required' | 'number' | 'integer'

/**
 * The API body for a draft, or the fields that cannot be sent as typed (keyed by the API's
 * field names, so the server's 422 and these land on the same inputs). Empty optional fields
 * are left out: the server's defaults apply.
 */
export function draftToNewProject(d: NewProjectDraft): { body: NewProject | null; problems: Record<string, DraftProblem> } {
  const problems: Record<string, DraftProblem> = {}
  const name = d.name.trim()
  const sector = d.sector.trim()
  const department = d.department.trim()
  if (!name) problems.name = 'required'
  if (!sector) problems.sector = 'required'
  if (!department) problems.department = 'required'
  const yearText = d.year.trim()
  if (!yearText) problems.year = 'required'
  else if (!/^\d+$/.test(yearText)) problems.year = 'integer'

  const body: NewProject = { name, category: d.category, year: Number(yearText), sector, department, stage: d.stage }
  const id = d.id.trim()
  if (id) body.id = id
  const leader = d.leader.trim()
  if (leader) body.leader = leader
  for (const f of MONEY_FIELDS) {
    const text = d.money[f].trim().replace(/,/g, '')
    if (!text) continue
    const yuan = wanToYuan(text)
    if (Number.isNaN(yuan)) problems[f] = 'number'
    else body[f] = yuan
  }
  const progress = d.progress.trim().replace(/%$/, '')
  if (progress) {
    if (!/^\d+$/.test(progress)) problems.progress = 'integer'
    else body.progress = Number(progress)
  }
  for (const f of DATE_FIELDS) {
    if (d.dates[f]) body[f] = d.dates[f]
  }
  if (d.onHold) body.onHold = true
  if (d.note.trim()) body.note = d.note
  if (d.comment.trim()) body.comment = d.comment.trim()
  return Object.keys(problems).length ? { body: null, problems } : { body, problems }
}
