import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import en from '../src/i18n/en'
import zh from '../src/i18n/zh-CN'

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : /\.(ts|vue)$/.test(f) ? [p] : []
  })
}

function lookup(messages: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), messages)
}

// Keys built at run time, with every value they take.
const DYNAMIC = [
  ...['green', 'yellow', 'red'].flatMap((l) => [`warning.level.${l}`, `warning.short.${l}`]),
  ...['missing', 'submitted', 'returned', 'approved'].map((s) => `report.status.${s}`),
  ...['pending', 'coordinating', 'resolved'].map((s) => `problem.status.${s}`),
  ...['open', 'closed'].map((s) => `month.status.${s}`),
  ...Array.from({ length: 12 }, (_, i) => `month.names.${i + 1}`),
  ...['added', 'removed', 'changed'].map((s) => `compare.status.${s}`),
  ...['investmentPace', 'progressPace', 'notStarted', 'completionOverdue', 'reportMissing', 'consecutiveYellow', 'problemOverdue'].flatMap((r) => [
    `rules.name.${r}`,
    `rules.hint.${r}`,
  ]),
  ...['create', 'update', 'delete', 'report', 'problem', 'month', 'settings'].map((k) => `ticker.kind.${k}`),
  'field.warning',
]

describe('i18n', () => {
  const src = join(__dirname, '..', 'src')
  const keys = new Set<string>(DYNAMIC)
  for (const f of files(src)) {
    const text = readFileSync(f, 'utf8')
    // A component with messages of its own (useScope: 'local') is checked by its own tests.
    if (text.includes("useScope: 'local'")) continue
    for (const m of text.matchAll(/\bt\('([a-zA-Z0-9_.]+)'/g)) keys.add(m[1]!)
  }
  it('has every key the code uses in Chinese and English', () => {
    const missing: string[] = []
    for (const k of keys) {
      if (typeof lookup(zh, k) !== 'string') missing.push(`zh-CN ${k}`)
      if (typeof lookup(en, k) !== 'string') missing.push(`en ${k}`)
    }
    expect(missing).toEqual([])
  })
})
