package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	bigOnce sync.Once
	bigPath string
)

// TestMain removes the shared 100,000-project database after the benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if bigPath != "" {
		os.RemoveAll(filepath.Dir(bigPath))
	}
	os.Exit(code)
}

// bigDB builds, once per test binary, a database of 100,000 projects spread over sectors,
// departments, categories and stages.
func bigDB(b *testing.B) string {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "projectboard-big-")
		if err != nil {
			b.Fatal(err)
		}
		bigPath = filepath.Join(dir, "big.db")
		s, err := Open(bigPath, Options{})
		if err != nil {
			b.Fatal(err)
		}
		sectors := []string{"数字经济", "汽车电子", "影视文旅", "现代农业", "大健康", "基础设施", "教育", "城市更新", "现代服务业", "先进制造"}
		depts := []string{"经济发展局", "投资促进局", "城乡建设局", "文化和旅游局", "数字经济发展局", "农业农村局", "教育局", "卫生健康局", "城市管理局", "新湖镇", "玉潭镇", "永兴街道"}
		projects := make([]Project, 100_000)
		for i := range projects {
			p := sample(fmt.Sprintf("S%06d", i), Stages[i%len(Stages)])
			p.Category = Categories[i%3]
			p.Year = 2018 + i%8
			p.Sector, p.Department = sectors[i%len(sectors)], depts[(i/7)%len(depts)]
			p.Note = "规模测试项目"
			projects[i] = *p
		}
		if err := s.Seed(projects, "bench", ""); err != nil {
			b.Fatal(err)
		}
		s.Close()
	})
	return bigPath
}

// BenchmarkOpen100k: how long a server takes to open a database of 100,000 projects (load
// them and build the summary cells).
func BenchmarkOpen100k(b *testing.B) {
	path := bigDB(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := s.Len()
		b.StopTimer()
		s.Close()
		if n != 100_000 {
			b.Fatalf("got %d projects", n)
		}
		b.StartTimer()
	}
}

// BenchmarkSummary100k: the figures for a filter over 100,000 projects (the unfiltered one
// is precomputed at each commit and costs a pointer read).
func BenchmarkSummary100k(b *testing.B) {
	s, err := Open(bigDB(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, f := range []SummaryFilter{{}, {Year: 2022}, {Year: 2022, Department: "教育局"}} {
		b.Run(fmt.Sprintf("year=%d,dept=%q", f.Year, f.Department), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if s.Summary(f).Total.Count == 0 {
					b.Fatal("empty summary")
				}
			}
		})
	}
}

// BenchmarkEditAt100k: one edit's commit, summary and event with 100,000 projects loaded.
func BenchmarkEditAt100k(b *testing.B) {
	s, err := Open(bigDB(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p, _ := s.Project("S000001")
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: p.ID, IfMatch: p.Version, Patch: &Patch{Progress: ptr(i % 100)}})
		if err != nil {
			b.Fatal(err)
		}
		p = r.Project
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "commits/s")
}
