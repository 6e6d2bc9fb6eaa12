package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
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
	stopSharedEtcd()
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
			p := sample(fmt.Sprintf("S%06d", i), StagePreparing)
			p.Category = Categories[i%3]
			p.Stage = StagesOf(p.Category)[(i/3)%len(StagesOf(p.Category))] // a stage of its category
			if p.Stage.Completed() {
				p.Progress = 100
			}
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

// BenchmarkFileSize100kEdits: how the file grows with the permanent change log. 200
// projects, then 100,000 edits by 32 concurrent editors; reports the file size, the size of
// what it holds (projects and log), and the size after compaction.
func BenchmarkFileSize100kEdits(b *testing.B) {
	for i := 0; i < b.N; i++ {
		path := filepath.Join(b.TempDir(), "size.db")
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		projects := make([]Project, 200)
		for j := range projects {
			projects[j] = *sample(fmt.Sprintf("Z%03d", j), StageUnderConstruction)
			projects[j].Note = "冬季持续施工，进行机电、消防、水暖安装工程"
		}
		if err := s.Seed(projects, "bench", ""); err != nil {
			b.Fatal(err)
		}
		const edits, editors = 100_000, 32
		var wg sync.WaitGroup
		for w := 0; w < editors; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for k := w; k < edits; k += editors {
					id := fmt.Sprintf("Z%03d", k%200)
					for {
						p, _ := s.Project(id)
						_, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: p.Version, By: "editor",
							Patch: &Patch{Progress: ptr(k % 101), InvestmentCompletedYuan: ptr(int64(k) * 10_000)}, Comment: "月报"})
						if err == nil {
							break
						}
					}
				}
			}(w)
		}
		wg.Wait()
		var live int64
		_ = s.view(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucketProjects, bucketChanges, bucketProjectChanges} {
				_ = tx.Bucket(name).ForEach(func(k, v []byte) error { live += int64(len(k) + len(v)); return nil })
			}
			return nil
		})
		s.Close()
		before, after, err := Compact(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(before)/(1<<20), "file-MiB")
		b.ReportMetric(float64(live)/(1<<20), "data-MiB")
		b.ReportMetric(float64(after)/(1<<20), "compacted-MiB")
		b.ReportMetric(float64(before)/float64(edits), "file-bytes/edit")
	}
}
