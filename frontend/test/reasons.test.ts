// The pages write a warning reason with the same words as the server's reminders and
// bulletin: both are checked against the server's golden file.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { WarningReason } from '../src/api/types'
import { reasonSentence } from '../src/cycle/reasons'

interface Case {
  reason: WarningReason
  zh: string
  en: string
}
const cases = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../store/testdata/reasons.golden.json'), 'utf8')) as Case[]

describe('reasonSentence', () => {
  it('has cases', () => expect(cases.length).toBeGreaterThan(8))
  for (const c of cases) {
    it(`${c.reason.rule} ${c.reason.level}`, () => {
      expect(reasonSentence(c.reason, 'zh-CN')).toBe(c.zh)
      expect(reasonSentence(c.reason, 'en')).toBe(c.en)
    })
  }
})
