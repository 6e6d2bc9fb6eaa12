package server

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"

	"projectboard/server/sheet"
	"projectboard/store"
)

// TestMonthBulletin: the JSON bulletin holds the XLSX bulletin's figures — its totals, its
// units, its project lines with 存在问题 — for any reader, a display screen included; one
// unit's bulletin has that unit's projects and no zone rates.
func TestMonthBulletin(t *testing.T) {
	f := newFixture(t)
	data := monthWorkbook(t, []string{"2022年10月"}, map[string][][]any{"2022年10月": {reportHead,
		{"P1", "", 1234.5678, 35, "主体施工", "用地指标未落实"}, {"P2", "", 2000, 60, "", ""}}})
	if status, a := importReports(t, f, "admin", false, "x.xlsx", data); status != 200 || !a.Applied {
		t.Fatalf("import: %d %+v", status, a)
	}
	res := f.do("GET", "/api/months/2022-10/bulletin", "viewer", "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET bulletin: %d", res.StatusCode)
	}
	b := decodeJSON[bulletinJSON](t, res)
	if b.Month != "2022-10" || b.Title.Zh != "长春净月高新区重点项目建设情况通报（截至2022年10月）" || b.Title.En == "" || b.GeneratedAt.IsZero() {
		t.Errorf("month %q, title %+v, generated %v", b.Month, b.Title, b.GeneratedAt)
	}

	// The XLSX's 通报 sheet: label → raw value, and its 责任单位 sheet.
	body := download(t, f, "/api/export/reports?month=2022-10", "viewer", ".xlsx")
	x, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, _ := x.GetRows(sheet.BulletinSheet, excelize.Options{RawCellValue: true})
	figure := map[string]string{}
	for _, r := range rows {
		if len(r) >= 2 {
			figure[r[0]] = r[1]
		}
	}
	num := func(s string) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("not a number: %q", s)
		}
		return v
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if d := got - want; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: got %v, want %v (as in the XLSX)", name, got, want)
		}
	}
	tot := b.Totals
	near("项目数", float64(tot.Projects), num(figure["项目数"]))
	near("红色预警", float64(tot.Red), num(figure["红色预警"]))
	near("黄色预警", float64(tot.Yellow), num(figure["黄色预警"]))
	near("绿色", float64(tot.Green), num(figure["绿色"]))
	near("年度计划投资", float64(tot.PlanYuan)/10000, num(figure["年度计划投资（万元）"]))
	near("本月完成投资", float64(tot.MonthYuan)/10000, num(figure["本月完成投资（万元）"]))
	near("累计完成投资", float64(tot.CompletedYuan)/10000, num(figure["累计完成投资（万元）"]))
	if tot.InvestmentRate == nil || tot.ElapsedShare == nil || tot.GapPoints == nil {
		t.Fatalf("totals without rates: %+v", tot)
	}
	near("投资完成率", *tot.InvestmentRate, num(figure["投资完成率"]))
	near("序时进度", *tot.ElapsedShare, num(figure["序时进度"]))
	near("与序时进度相差", *tot.GapPoints, num(figure["与序时进度相差（百分点）"]))
	if tot.MonthYuan != 12_345_678+20_000_000 || tot.Projects != len(b.Projects) || tot.Projects != 3 { // P1, P2 and the attraction project A1
		t.Errorf("totals %+v for %d projects", tot, len(b.Projects))
	}

	units, _ := x.GetRows(sheet.BulletinUnitsSheet, excelize.Options{RawCellValue: true})
	units = units[3 : len(units)-1] // title, subtitle, header … total
	if len(units) != len(b.Units) {
		t.Fatalf("%d units, the XLSX has %d", len(b.Units), len(units))
	}
	for i, u := range b.Units {
		want := units[i]
		got := []string{u.Department, fmt.Sprint(u.Projects), fmt.Sprint(u.Submitted), fmt.Sprint(u.Missing), fmt.Sprint(u.Returned), fmt.Sprint(u.Approved)}
		for k, g := range got {
			if want[k+1] != g {
				t.Errorf("unit %d column %d: got %q, want %q (XLSX row %q)", i, k+1, g, want[k+1], want)
			}
		}
		near(u.Department+" 累计完成", float64(u.CompletedYuan)/10000, num(want[10]))
	}

	var p1 *bulletinProject
	for i := range b.Projects {
		if b.Projects[i].ID == "P1" {
			p1 = &b.Projects[i]
		}
	}
	if p1 == nil || p1.ProblemsText != "用地指标未落实" || p1.Report != store.ReportSubmitted || p1.MonthYuan != 12_345_678 || p1.InvestmentRate == nil {
		t.Errorf("P1 line %+v", p1)
	}

	// One unit's bulletin: its projects, no zone rates.
	res = f.do("GET", "/api/months/2022-10/bulletin?department="+url.QueryEscape("城乡建设局"), "display", "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("department bulletin as a display screen: %d", res.StatusCode)
	}
	d := decodeJSON[bulletinJSON](t, res)
	if len(d.Projects) != 1 || d.Projects[0].ID != "P2" || d.Department != "城乡建设局" || d.Totals.StartRate != nil || d.Totals.ElapsedShare == nil {
		t.Errorf("department bulletin: %d projects, totals %+v", len(d.Projects), d.Totals)
	}

	for target, want := range map[string]int{"/api/months/2022-13/bulletin": 422, "/api/months/2099-01/bulletin": 404} {
		if res := f.do("GET", target, "viewer", "", nil); res.StatusCode != want {
			t.Errorf("%s: %d, want %d", target, res.StatusCode, want)
		}
	}
	if res := f.do("GET", "/api/months/2022-10/bulletin", "", "", nil); res.StatusCode != 401 {
		t.Errorf("anonymous: %d, want 401", res.StatusCode)
	}
}
