import { describe, expect, it } from 'vitest'
import {
  addMonths,
  ageDays,
  defaultReportMonth,
  isMonth,
  isOverdue,
  monthsOfYear,
  reportEditable,
  submissionField,
  wanInputToYuan,
  warningOf,
} from '../src/cycle/months'

describe('months', () => {
  it('adds across years', () => {
    expect(addMonths('2022-11', -1)).toBe('2022-10')
    expect(addMonths('2022-01', -1)).toBe('2021-12')
    expect(addMonths('2022-12', 1)).toBe('2023-01')
    expect(addMonths('2022-10', -12)).toBe('2021-10')
    expect(addMonths('2022-10', -25)).toBe('2020-09')
  })
  it('lists a year', () => {
    const ms = monthsOfYear(2022)
    expect(ms).toHaveLength(12)
    expect(ms[0]).toBe('2022-01')
    expect(ms[11]).toBe('2022-12')
  })
  it('checks the form', () => {
    expect(isMonth('2022-10')).toBe(true)
    expect(isMonth('2022-13')).toBe(false)
    expect(isMonth('2022-1')).toBe(false)
  })
  it('defaults to the reporting month, else the month before today', () => {
    expect(defaultReportMonth({ month: '2022-09' }, new Date('2022-11-08T02:00:00Z'))).toBe('2022-09')
    expect(defaultReportMonth(null, new Date('2022-11-08T02:00:00Z'))).toBe('2022-10')
    // 1 January 00:30 in Shanghai is still 31 December in UTC.
    expect(defaultReportMonth(null, new Date('2022-12-31T16:30:00Z'))).toBe('2022-12')
  })
})

describe('problems', () => {
  it('is overdue when open and past due', () => {
    expect(isOverdue({ status: 'pending', due: '2022-11-01' }, '2022-11-08')).toBe(true)
    expect(isOverdue({ status: 'pending', due: '2022-11-08' }, '2022-11-08')).toBe(false)
    expect(isOverdue({ status: 'resolved', due: '2022-11-01' }, '2022-11-08')).toBe(false)
    expect(isOverdue({ status: 'coordinating', due: '' }, '2022-11-08')).toBe(false)
  })
  it('counts days of age', () => {
    expect(ageDays('2022-11-01T02:00:00Z', '2022-11-08')).toBe(6)
    expect(ageDays('2022-11-01', '2022-11-08')).toBe(7)
    expect(ageDays('2022-11-09', '2022-11-08')).toBe(0)
  })
})

describe('reports', () => {
  it('parses 万元', () => {
    expect(wanInputToYuan('12.5')).toBe(125_000)
    expect(wanInputToYuan(' 0 ')).toBe(0)
    expect(wanInputToYuan('0.0001')).toBe(1)
    expect(wanInputToYuan('-1')).toBeNaN()
    expect(wanInputToYuan('1e3')).toBeNaN()
    expect(wanInputToYuan('')).toBeNaN()
  })
  it('names the row of a submission error', () => {
    expect(submissionField('reports[3].monthYuan')).toEqual({ index: 3, field: 'monthYuan' })
    expect(submissionField('reports[0]')).toEqual({ index: 0, field: '' })
    expect(submissionField('month')).toBeNull()
  })
  it('is editable until approved or closed', () => {
    expect(reportEditable(undefined, false)).toBe(true)
    expect(reportEditable('returned', false)).toBe(true)
    expect(reportEditable('approved', false)).toBe(false)
    expect(reportEditable('submitted', true)).toBe(false)
  })
  it('takes a missing warning as green', () => {
    expect(warningOf({} as never).level).toBe('green')
    expect(warningOf({ warning: { level: 'red', reasons: [] } }).level).toBe('red')
  })
})
