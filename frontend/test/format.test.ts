import { describe, expect, it } from 'vitest'
import { formatMoney, formatPercent, formatPoints, paceLight, ratio, wanToYuan, yiValue, yuanToWan } from '../src/format'

describe('formatMoney', () => {
  it.each([
    [34_355_000_000, '343.55亿元'],
    [19_170_000_000, '191.7亿元'],
    [100_000_000, '1亿元'],
    [123_456_789, '1.23亿元'],
    [99_990_000, '9999万元'],
    [35_000_000, '3500万元'],
    [12_345, '1.23万元'],
    [5_000, '0.5万元'],
    [0, '0万元'],
  ])('%d yuan → %s', (yuan, want) => {
    expect(formatMoney(yuan)).toBe(want)
  })
  it('rounds 亿 to two decimals', () => {
    expect(formatMoney(34_355_499_999)).toBe('343.55亿元')
    expect(formatMoney(34_355_500_001)).toBe('343.56亿元')
  })
})

describe('percentages', () => {
  it('drops trailing zeros and keeps one decimal', () => {
    expect(formatPercent(1)).toBe('100%')
    expect(formatPercent(1.015)).toBe('101.5%')
    expect(formatPercent(0.8333)).toBe('83.3%')
    expect(formatPercent(0)).toBe('0%')
    expect(formatPercent(Number.NaN)).toBe('—')
  })
  it('ratio of nothing due is 0', () => {
    expect(ratio(3, 0)).toBe(0)
    expect(ratio(102, 102)).toBe(1)
  })
  it('points are signed', () => {
    expect(formatPoints(5.94)).toBe('+5.9')
    expect(formatPoints(-12.25)).toBe('-12.3')
  })
})

describe('form conversions', () => {
  it('万元 ↔ yuan', () => {
    expect(wanToYuan('3500')).toBe(35_000_000)
    expect(wanToYuan('0.0001')).toBe(1)
    expect(wanToYuan('abc')).toBeNaN()
    expect(wanToYuan('')).toBeNaN()
    expect(yuanToWan(35_000_000)).toBe('3500')
    expect(yuanToWan(12_345)).toBe('1.2345')
    expect(yiValue(34_355_000_000)).toBe(343.55)
  })
})

describe('paceLight', () => {
  it('compares with 序时进度', () => {
    expect(paceLight(0.6, 0.5)).toBe('green')
    expect(paceLight(0.45, 0.5)).toBe('green')
    expect(paceLight(0.35, 0.5)).toBe('yellow')
    expect(paceLight(0.1, 0.5)).toBe('red')
  })
})
