import { useI18n } from 'vue-i18n'
import type { Change } from '../api/types'
import { formatMoney } from '../format'

const MONEY = new Set(['investmentYuan', 'annualPlanYuan', 'investmentCompletedYuan', 'monthYuan', 'openingYuan', 'cumulativeYuan'])

const TOKEN_PREFIX = 'token:'

/**
 * The name of the api token behind an actor ("token:<name>"), or null for a person. A
 * username never contains ':', so a person cannot pass for a token or the other way round.
 */
export function tokenActor(by: string): string | null {
  return by.startsWith(TOKEN_PREFIX) ? by.slice(TOKEN_PREFIX.length) : null
}

/** Text for field values in the ticker, the timeline and the conflict view. */
export function useLabels() {
  const { t, te } = useI18n()

  function fieldName(field: string): string {
    return te(`field.${field}`) ? t(`field.${field}`) : field
  }

  function value(field: string, v: unknown): string {
    if (v === null || v === undefined || v === '') return t('project.empty')
    if (field === 'stage' && typeof v === 'string' && te(`stage.${v}`)) return t(`stage.${v}`)
    if (field === 'category' && typeof v === 'string' && te(`category.${v}`)) return t(`category.${v}`)
    if (field === 'warning' && typeof v === 'object' && 'level' in v) return t(`warning.level.${String((v as { level: unknown }).level)}`)
    if ((field === 'level' || field === 'warning') && typeof v === 'string' && te(`warning.level.${v}`)) return t(`warning.level.${v}`)
    if ((field === 'report' || field === 'reportStatus') && typeof v === 'string' && te(`report.status.${v}`)) return t(`report.status.${v}`)
    if (field === 'status' && typeof v === 'string' && te(`problem.status.${v}`)) return t(`problem.status.${v}`)
    if (field === 'status' && typeof v === 'string' && te(`report.status.${v}`)) return t(`report.status.${v}`)
    if (field === 'status' && typeof v === 'string' && te(`month.status.${v}`)) return t(`month.status.${v}`)
    if (MONEY.has(field) && typeof v === 'number') return formatMoney(v)
    if (field === 'progress' && typeof v === 'number') return `${v}%`
    if (typeof v === 'boolean') return v ? t('project.yes') : t('project.no')
    if (typeof v === 'string' || typeof v === 'number') return String(v)
    return JSON.stringify(v)
  }

  /** Who made a change: a person's username as it is, an api token as "令牌 <name>". */
  function who(by: string): string {
    const token = tokenActor(by)
    return token === null ? by : t('actor.token', { name: token })
  }

  /** One line for a change: the stage move if there is one, else the first field. */
  function describe(c: Change): string {
    if (c.kind === 'create') return t('ticker.created')
    if (c.kind === 'delete') return t('ticker.deleted')
    if (c.kind === 'month') {
      const to = c.fields?.status?.to
      return to === 'closed' ? t('ticker.monthClosed', { month: c.key ?? '' }) : to === 'open' ? t('ticker.monthReopened', { month: c.key ?? '' }) : t('ticker.month', { month: c.key ?? '' })
    }
    if (c.kind === 'settings') return t('ticker.settings')
    if (c.kind === 'report') {
      const to = c.fields?.status?.to
      const st = typeof to === 'string' && te(`report.status.${to}`) ? t(`report.status.${to}`) : ''
      return t('ticker.report', { month: c.key ?? '', status: st })
    }
    if (c.kind === 'problem') {
      const to = c.fields?.status?.to
      if (c.fields && Object.keys(c.fields).length > 0 && typeof to === 'string' && te(`problem.status.${to}`))
        return t('ticker.problemStatus', { status: t(`problem.status.${to}`) })
      return t('ticker.problem')
    }
    const keys = Object.keys(c.fields)
    const key = keys.includes('stage') ? 'stage' : keys[0]
    if (!key) return ''
    const f = c.fields[key]!
    const more = keys.length > 1 ? ` (+${keys.length - 1})` : ''
    return `${fieldName(key)}：${value(key, f.from)} → ${value(key, f.to)}${more}`
  }

  return { fieldName, value, describe, who }
}
