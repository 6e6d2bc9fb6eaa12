import type { Change, Project, Summary } from '../src/api/types'

export function project(id: string, over: Partial<Project> = {}): Project {
  return {
    id,
    name: `项目${id}`,
    category: 'planned',
    year: 2022,
    sector: '数字经济',
    department: '经发局',
    leader: '张三',
    stage: 'preparing',
    investmentYuan: 1_000_000_000,
    annualPlanYuan: 200_000_000,
    investmentCompletedYuan: 0,
    progress: 0,
    plannedStart: '2022-04-01',
    startedAt: null,
    resumedAt: null,
    plannedCompletion: '2023-10-01',
    completedAt: null,
    onHold: false,
    note: '',
    warning: { level: 'green', reasons: [] },
    openProblems: 0,
    version: 1,
    updatedAt: '2022-03-01T00:00:00Z',
    updatedBy: 'admin',
    ...over,
  }
}

export function change(rev: number, projectId: string, over: Partial<Change> = {}): Change {
  return {
    rev,
    projectId,
    projectName: `项目${projectId}`,
    at: '2022-05-01T02:00:00Z',
    by: 'editor1',
    kind: 'update',
    fields: { stage: { from: 'preparing', to: 'under_construction' } },
    comment: '',
    ...over,
  }
}

export function summary(rev: number): Summary {
  const tally = { count: 0, investmentYuan: 0 }
  return {
    rev,
    year: 2022,
    total: tally,
    planned: { ...tally, started: 0, newStarts: 0, restarts: 0, completed: 0, startDue: 0, newStartDue: 0, restartDue: 0, startRate: 0, newStartRate: 0 },
    unplanned: { ...tally, started: 0, newStarts: 0, restarts: 0, completed: 0 },
    attraction: { ...tally, negotiating: tally, signed: tally, landed: tally },
    completion: { completed: 0, due: 0, notDue: 0 },
    completionRate: 0,
    investment: { annualPlanYuan: 0, completedYuan: 0, completionRate: 0, gapPoints: 0 },
    elapsedShare: 1,
    elapsedMonths: 12,
    byStage: [],
    byCategory: [],
    bySector: [],
    byDepartment: [],
    warnings: { green: 0, yellow: 0, red: 0 },
    problems: { open: 0, overdue: 0, resolved: 0 },
    reporting: null,
  }
}
