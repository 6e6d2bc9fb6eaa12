import { describe, expect, it } from 'vitest'
import { columnLetter, excelSerial, readXlsx, unzip, writeXlsx, zip } from '../e2e/xlsx'

// The browser tests' own XLSX tool: what it writes reads back, checked (the server's excelize
// reading it is the browser tests' part).
describe('test xlsx tool', () => {
  it('zips and unzips UTF-8 names and contents', () => {
    const files = [
      { name: 'a.txt', data: Buffer.from('hello '.repeat(100)) },
      { name: '目录/表.xml', data: Buffer.from('<x>项目</x>') },
    ]
    const z = zip(files)
    expect(z.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]))
    const back = unzip(z)
    expect([...back.keys()]).toEqual(['a.txt', '目录/表.xml'])
    expect(back.get('目录/表.xml')!.toString()).toBe('<x>项目</x>')
  })

  it('checks what it reads: a damaged entry is an error', () => {
    const z = zip([{ name: 'a.txt', data: Buffer.from('项目'.repeat(50)) }])
    const damaged = Buffer.from(z)
    damaged.writeUInt8(damaged.readUInt8(40) ^ 0xff, 40) // inside the deflated data of the only entry
    expect(() => unzip(damaged)).toThrow()
  })

  it('writes cells, merges and dates that read back', () => {
    const buf = writeXlsx({
      name: '2022年重点项目',
      rows: [
        ['长春净月高新区2022年重点项目推进情况表'],
        ['序号', '项目名称', '投资情况（万元）', null, null, '计划开工时间'],
        [null, null, '总投资', '年度计划', '年度完成', null],
        [1, 'A&B <项目>', '12,000.5', 3000, 0, { serial: excelSerial('2022-04-01') }],
      ],
      merges: ['A1:F1', 'C2:E2', 'A2:A3', 'B2:B3', 'F2:F3'],
      boldRows: [2, 3],
    })
    const s = readXlsx(buf)
    expect(s.sheets).toEqual(['2022年重点项目'])
    expect(s.rows[1]).toEqual(['序号', '项目名称', '投资情况（万元）', '', '', '计划开工时间'])
    expect(s.rows[3]).toEqual(['1', 'A&B <项目>', '12,000.5', '3000', '0', '44652'])
    expect(s.merges).toContain('C2:E2')
  })

  it('numbers columns and dates as Excel does', () => {
    expect(columnLetter(0)).toBe('A')
    expect(columnLetter(25)).toBe('Z')
    expect(columnLetter(26)).toBe('AA')
    expect(excelSerial('2022-04-01')).toBe(44652)
    expect(excelSerial('1900-03-01')).toBe(61)
  })
})
