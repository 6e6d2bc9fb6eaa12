import { useI18n } from 'vue-i18n'
import type { Change } from '../api/types'
import { formatMoney } from '../format'

const MONEY = new Set(['investmentYuan', 'annualPlanYuan', 'investmentCompletedYuan'])

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
    const keys = Object.keys(c.fields)
    const key = keys.includes('stage') ? 'stage' : keys[0]
    if (!key) return ''
    const f = c.fields[key]!
    const more = keys.length > 1 ? ` (+${keys.length - 1})` : ''
    return `${fieldName(key)}：${value(key, f.from)} → ${value(key, f.to)}${more}`
  }

  return { fieldName, value, describe, who }
}
