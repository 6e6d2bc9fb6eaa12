package sheet

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"projectboard/store"
)

// FuzzReadCSV: any upload is read into rows whose every value is one the store accepts as
// far as parsing goes, or refused with a *FileError in both languages — never a panic, never
// an unnamed error, never a cell error without its column.
func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"项目名称,总投资（亿元）,形象进度,计划开工时间,推进阶段,类别\n甲,1.5,54%,2023/3/1,在建,计划内\n",
		"\uFEFF项目编号,项目名称,备注\nA1,\"多\n行\",\"x,y\"\n,,\n合计,,\n",
		"标题\n单位：万元\n项目名称,投资情况,,\n,总投资,年度计划,年度完成\n甲,\"12,000.5\",-5,１２３\n",
		"项目名称;状态;停工\n甲;投产;是\n乙;x;maybe\n",
		"id,name,progress,startedAt\n1,a,1,45017\n2,b,0.5,2023.13\n",
		"项目名称,备注\n\"a\"b\"\",'=1+1\n\"unterminated\n",
		"项目名称,形象进度\n\u202Ea,1e309\n",
	} {
		f.Add([]byte(s))
	}
	gb, _ := simplifiedchinese.GB18030.NewEncoder().String("项目名称,推进阶段\n慧泽学校,竣工\n")
	f.Add([]byte(gb))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Read("fuzz.csv", data, Limits{MaxRows: 500, MaxCols: 40})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Message == "" || fe.MessageEn == "" || fe.Err == nil {
				t.Fatalf("unnamed refusal %T: %v", err, err)
			}
			return
		}
		last := 0
		for _, r := range tab.Rows {
			if r.Line <= last || r.Line <= tab.HeaderRow {
				t.Fatalf("row %d after %d (header %d)", r.Line, last, tab.HeaderRow)
			}
			last = r.Line
			for _, e := range r.Errors {
				if e.Column == "" || e.Letter == "" || e.Field == "" || e.Message == "" || e.MessageEn == "" {
					t.Fatalf("cell error without its names: %+v", e)
				}
			}
			checkPatch(t, &r.Patch)
			if r.ID != "" && store.CheckText("id", r.ID, 1, 64) != nil {
				t.Fatalf("id %q", r.ID)
			}
		}
	})
}

// checkPatch: every value a row carries passes the store's checks of its kind.
func checkPatch(t *testing.T, p *store.Patch) {
	t.Helper()
	for _, m := range []*int64{p.InvestmentYuan, p.AnnualPlanYuan, p.InvestmentCompletedYuan} {
		if m != nil && (*m < 0 || *m > store.MaxYuan) {
			t.Fatalf("amount %d", *m)
		}
	}
	if p.Progress != nil && (*p.Progress < 0 || *p.Progress > 100) {
		t.Fatalf("progress %d", *p.Progress)
	}
	for _, d := range []*store.Date{p.PlannedStart, p.StartedAt, p.ResumedAt, p.PlannedCompletion, p.CompletedAt} {
		if d != nil {
			if v, err := store.ParseDate(string(*d)); err != nil || v != *d {
				t.Fatalf("date %q: %v", *d, err)
			}
		}
	}
	for _, s := range []*string{p.Name, p.Sector, p.Department, p.Leader} {
		if s != nil && store.CheckText("text", *s, 1, 200) != nil {
			t.Fatalf("text %q", *s)
		}
	}
	if p.Note != nil && store.CheckLongText("note", *p.Note, 1, 2000) != nil {
		t.Fatalf("note %q", *p.Note)
	}
	if p.Category != nil && (*p.Category).Construction() == false && *p.Category != store.CategoryAttraction {
		t.Fatalf("category %q", *p.Category)
	}
	if p.Stage != nil && (*p.Stage).Index() < 0 {
		t.Fatalf("stage %q", *p.Stage)
	}
}

// FuzzParseValues: a cell's text either parses to a value in range or gives a message in
// both languages; amounts written back in 万元 read as the same yuan; a header a column is
// written with is read as that column.
func FuzzParseValues(f *testing.F) {
	for _, s := range []string{"12,000.5", "１２３", "-5", "1.2E+3", "54%", "0.54", "1", "45017", "2023/3/1", "2023年3月1日",
		"2023.3", "2023-3", "20230301", "无", "3.5亿", "¥1,000", "9e18", ".5", "1e-400", "2023.", "——", "总投资（亿元）"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, unit := range []string{UnitYuan, UnitWanYuan, UnitYiYuan} {
			v, ok, verr := parseMoney(s, unit)
			switch {
			case verr != nil && (verr.zh == "" || verr.en == "" || ok):
				t.Fatalf("money %q: %+v %v", s, verr, ok)
			case ok && (v < 0 || v > store.MaxYuan):
				t.Fatalf("money %q in %s: %d", s, unit, v)
			case ok:
				if back, ok2, _ := parseMoney(wanText(v), UnitWanYuan); !ok2 || back != v {
					t.Fatalf("money %d written as %q reads as %d", v, wanText(v), back)
				}
			}
		}
		if pv, verr := parseProgress(s, false); pv.ok && (pv.v < 0 || pv.v > 100) || verr != nil && verr.en == "" {
			t.Fatalf("progress %q: %+v %v", s, pv, verr)
		}
		if d, ok, verr := parseDate(s, false); ok && d != "" {
			if v, err := store.ParseDate(string(d)); err != nil || v != d {
				t.Fatalf("date %q → %q: %v", s, d, err)
			}
		} else if !ok && verr != nil && !strings.Contains(verr.zh, s[:0]) {
			t.Fatal("unreachable")
		}
		if y, ok, _ := parseYear(s); ok && (y < 0 || y >= 10000) {
			t.Fatalf("year %q: %d", s, y)
		}
		_, _, _ = lookupHeader(s)
		_ = sheetUnit(s)
		_ = isGroupHeading(s)
	})
}

// TestHeadersReadBack: every header we write is read as its field, with its unit.
func TestHeadersReadBack(t *testing.T) {
	for _, fd := range fields {
		for _, unit := range []string{"", UnitYuan, UnitWanYuan, UnitYiYuan} {
			h := exportHeader(fd.field, unit)
			f, u, _ := lookupHeader(h)
			wantUnit := ""
			switch {
			case isMoney(fd.field):
				wantUnit = unit
				if unit == "" {
					wantUnit = UnitWanYuan
				}
			case fd.field == FieldProgress:
				wantUnit = UnitPercent
			}
			if f == nil || f.field != fd.field || u != wantUnit {
				t.Errorf("header %q: got %v %q, want %s %q", h, f, u, fd.field, wantUnit)
			}
		}
	}
}
