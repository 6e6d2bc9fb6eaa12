import { describe, expect, it } from 'vitest'
import { draftToNewProject, emptyDraft, stagesFor } from '../src/composables/newProject'

describe('new project form', () => {
  it('offers the stages of the category', () => {
    expect(stagesFor('attraction')).toEqual(['negotiating', 'signed', 'landed'])
    expect(stagesFor('planned')).toEqual(['preparing', 'under_construction', 'completed', 'operating'])
    expect(stagesFor('unplanned')).toEqual(['preparing', 'under_construction', 'completed', 'operating'])
    expect(emptyDraft(2022, '', 'attraction').stage).toBe('negotiating')
    expect(emptyDraft(2022).stage).toBe('preparing')
  })

  it('sends the required fields, money in yuan from 万元, and leaves empty optional fields out', () => {
    const d = emptyDraft(2022, '经济发展局')
    Object.assign(d, { name: '  数据中心二期 ', sector: '数字经济', leader: '', stage: 'under_construction' })
    d.money.investmentYuan = '12,000.5'
    d.money.annualPlanYuan = '3000'
    d.progress = '35'
    d.dates.plannedStart = '2022-04-01'
    d.dates.resumedAt = '2022-04-15'
    const { body, problems } = draftToNewProject(d)
    expect(problems).toEqual({})
    expect(body).toEqual({
      name: '数据中心二期',
      category: 'planned',
      year: 2022,
      sector: '数字经济',
      department: '经济发展局',
      stage: 'under_construction',
      investmentYuan: 120_005_000,
      annualPlanYuan: 30_000_000,
      progress: 35,
      plannedStart: '2022-04-01',
      resumedAt: '2022-04-15',
    })
  })

  it('sends an id, the hold flag, a note and the comment when given', () => {
    const d = emptyDraft(2023, '招商局', 'attraction')
    Object.assign(d, { id: ' ZS-2023-01 ', name: 'x', sector: 'y', onHold: true, note: '待签约', comment: '新建' })
    expect(draftToNewProject(d).body).toMatchObject({ id: 'ZS-2023-01', onHold: true, note: '待签约', comment: '新建', year: 2023 })
  })

  it('names the fields it cannot send, keyed as the API names them', () => {
    const d = emptyDraft(2022)
    d.year = '二〇二二'
    d.money.investmentCompletedYuan = '12万'
    d.progress = '3.5'
    const { body, problems } = draftToNewProject(d)
    expect(body).toBeNull()
    expect(problems).toEqual({
      name: 'required',
      sector: 'required',
      department: 'required',
      year: 'integer',
      investmentCompletedYuan: 'number',
      progress: 'integer',
    })
  })

  it('leaves range checks to the server, which names the field', () => {
    const d = emptyDraft(2022, '经发局')
    Object.assign(d, { name: 'x', sector: 'y', progress: '150' })
    d.money.investmentYuan = '-5'
    expect(draftToNewProject(d).body).toMatchObject({ progress: 150, investmentYuan: -50_000 })
  })
})
