import { describe, expect, it } from 'vitest'
import { formatPercent, formatPoints, zoneToday } from '../src/format'

describe('zoneToday: the default effective date is the zone’s date', () => {
  it.each([
    ['2026-03-31T15:59:00Z', '2026-03-31'],
    ['2026-03-31T16:00:00Z', '2026-04-01'], // already April in Changchun
    ['2022-12-31T23:00:00-05:00', '2023-01-01'],
  ])('%s → %s', (instant, want) => {
    expect(zoneToday(new Date(instant))).toBe(want)
  })
})

describe('the figures as the tiles write them', () => {
  it('开复工率 above 100 %: 136/134', () => {
    expect(formatPercent(136 / 134)).toBe('101.5%')
  })
  it('the gap to 序时进度 in points, from the unrounded rate', () => {
    expect(formatPoints((629.0 / 647.4 - 10 / 12) * 100)).toBe('+13.8')
    expect(formatPoints((313.64 / 1015 - 3 / 12) * 100)).toBe('+5.9')
    expect(formatPoints((107.4 / 401.9 - 4 / 12) * 100)).toBe('-6.6')
  })
})
