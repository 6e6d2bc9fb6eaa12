// A warning reason in words. The server sends the figures only (rule, level, value,
// threshold and the rule's own figures); these sentences are the same as the server's
// WarningReason.Text writes for reminders and the bulletin: test/reasons.test.ts checks both
// against store/testdata/reasons.golden.json.
import type { WarningReason } from '../api/types'

/** Go's %.1f. */
const f1 = (n: number | undefined): string => (n ?? 0).toFixed(1)
/** Go's %g for the small numbers a reason holds (3, 10, 12.5). */
const g = (n: number | undefined): string => String(n ?? 0)
/** The English noun for n of them. */
const plural = (n: number | undefined, noun: string): string => (n === 1 ? noun : noun + 's')

export function reasonSentence(r: WarningReason, locale: string): string {
  const en = locale === 'en'
  // A month closed before reasons carried their figures keeps the sentences it was given.
  const legacy = en ? (r.en ?? r.zh) : (r.zh ?? r.en)
  if (legacy) return legacy
  const red = r.level === 'red'
  const lzh = red ? '红色' : '黄色'
  const len = red ? 'red' : 'yellow'
  switch (r.rule) {
    case 'investmentPace':
      return en
        ? `investment ${f1(r.actual)}% complete, ${f1(r.value)} points behind the year's pace (${len} at ${g(r.threshold)})`
        : `投资完成率 ${f1(r.actual)}%，落后序时进度 ${f1(r.value)} 个百分点（${lzh}阈值 ${g(r.threshold)}）`
    case 'progressPace':
      return en
        ? `progress ${g(r.actual)}%, ${f1(r.value)} points behind the construction schedule (${r.elapsed ?? 0} of ${r.span ?? 0} months; ${len} at ${g(r.threshold)})`
        : `形象进度 ${g(r.actual)}%，落后工期进度（${r.elapsed ?? 0}/${r.span ?? 0} 个月）${f1(r.value)} 个百分点（${lzh}阈值 ${g(r.threshold)}）`
    case 'notStarted':
      return en
        ? `planned to start ${r.date ?? ''}, not started ${g(r.value)} ${plural(r.value, 'month')} later (${len} at ${g(r.threshold)})`
        : `计划 ${r.date ?? ''} 开工，逾期 ${g(r.value)} 个月未开工（${lzh}阈值 ${g(r.threshold)} 个月）`
    case 'completionOverdue':
      if ((r.value ?? 0) > 0) {
        return en
          ? `planned completion ${r.date ?? ''} passed, not completed ${g(r.value)} ${plural(r.value, 'month')} later`
          : `计划 ${r.date ?? ''} 竣工，逾期 ${g(r.value)} 个月未竣工`
      }
      return en ? `planned completion ${r.date ?? ''} passed, not completed` : `计划 ${r.date ?? ''} 竣工，已逾期未竣工`
    case 'reportMissing': {
      const m = r.month ?? ''
      return en
        ? `no report for ${m} after its deadline ${r.date ?? ''}`
        : `${Number(m.slice(0, 4))}年${Number(m.slice(5, 7))}月月报截至 ${r.date ?? ''} 未报`
    }
    case 'problemOverdue':
      return en ? `${g(r.value)} ${plural(r.value, 'problem')} past their due date` : `${g(r.value)} 个问题逾期未解决`
    case 'consecutiveYellow':
      return en
        ? `yellow or worse in the last ${g(r.value)} closed months: raised to red`
        : `连续 ${g(r.value)} 个已关账月份为黄色或红色，升为红色`
  }
  return r.rule
}
