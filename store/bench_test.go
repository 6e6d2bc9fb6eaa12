package store

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// reportLatencies adds throughput and latency percentiles to a benchmark's result.
func reportLatencies(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "commits/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // the per-op time of a concurrent loop is not meaningful here
}

// openRaw opens the raw baseline's bbolt file, with the store's buckets, closed at the end.
func openRaw(b *testing.B, dir string) *bolt.DB {
	db, err := bolt.Open(filepath.Join(dir, "raw.db"), 0o600, &bolt.Options{InitialMmapSize: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	for _, m := range migrations {
		if err := db.Update(m); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// openRawAndStore opens the raw baseline's file and a store side by side in one directory, for
// the benchmarks whose two sides take turns; both close at the end.
func openRawAndStore(b *testing.B) (*bolt.DB, *Store) {
	dir := b.TempDir()
	db := openRaw(b, dir)
	s, err := Open(filepath.Join(dir, "store.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return db, s
}

// rawEdit is edit i of the raw baseline: the store's own encoding and writes of one change,
// in a db.Update of its own.
func rawEdit(db *bolt.DB, p *Project, i int) error {
	p.Progress, p.Version = i%100, uint64(i+1)
	batch := []staged{{after: p, change: Change{Rev: uint64(i + 1), ProjectID: p.ID, Kind: ChangeUpdate,
		Fields: map[string]FieldChange{"progress": {From: 0, To: p.Progress}}}}}
	if err := encodeStaged(batch); err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error { return writeStaged(&wtx{Tx: tx}, batch, uint64(i+1)) })
}

// BenchmarkRawUpdate is the baseline: one bbolt Update per edit writing the same keys and
// payloads as the store (project, log entry, index key, revision).
func BenchmarkRawUpdate(b *testing.B) {
	db := openRaw(b, b.TempDir())
	p := sample("RAW", StageUnderConstruction)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := rawEdit(db, p, i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatencies(b, lat, time.Since(start))
}

// BenchmarkStoreEdit measures the store's group-committing writer with concurrent editors,
// each changing its own project (so no edit is refused).
func BenchmarkStoreEdit(b *testing.B) {
	for _, editors := range []int{1, 8, 32, 64} {
		b.Run(fmt.Sprintf("editors=%d", editors), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "w.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for i := 0; i < editors; i++ {
				mustCreate(b, s, sample(fmt.Sprintf("E%03d", i), StageUnderConstruction))
			}
			var commits atomic.Int64
			s.SetCommitObserver(func(CommitStats) { commits.Add(1) })
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < editors; w++ {
				n := b.N / editors
				if w < b.N%editors {
					n++
				}
				wg.Add(1)
				go func(id string, n int) {
					defer wg.Done()
					version := uint64(1)
					mine := make([]time.Duration, 0, n)
					for i := 0; i < n; i++ {
						t0 := time.Now()
						r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: version, By: "bench",
							Patch: &Patch{Progress: ptr((i + 1) % 100)}})
						if err != nil {
							b.Error(err)
							return
						}
						version = r.Project.Version
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}(fmt.Sprintf("E%03d", w), n)
			}
			wg.Wait()
			reportLatencies(b, lat, time.Since(start))
			b.ReportMetric(float64(len(lat))/float64(commits.Load()), "edits/commit")
		})
	}
}

// BenchmarkSingleEditorVsRaw measures the bar "a single editor's commit is no worse than
// 1.2 × a raw db.Update" fairly on a shared disk: the raw loop and the store's writer take
// turns in rounds of 100 edits, on files in the same directory, so both see the same fsync
// weather. It reports both latency distributions and the ratio of their p99s and p50s.
func BenchmarkSingleEditorVsRaw(b *testing.B) {
	db, s := openRawAndStore(b)
	mustCreate(b, s, sample("S", StageUnderConstruction))
	p := sample("RAW", StageUnderConstruction)
	version := uint64(1)
	raw := make([]time.Duration, 0, b.N)
	ours := make([]time.Duration, 0, b.N)
	const round = 100
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		for i := done; i < done+n; i++ {
			t0 := time.Now()
			if err := rawEdit(db, p, i); err != nil {
				b.Fatal(err)
			}
			raw = append(raw, time.Since(t0))
		}
		for i := done; i < done+n; i++ {
			t0 := time.Now()
			r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: "S", IfMatch: version, By: "bench",
				Patch: &Patch{Progress: ptr((i + 1) % 100)}})
			if err != nil {
				b.Fatal(err)
			}
			version = r.Project.Version
			ours = append(ours, time.Since(t0))
		}
	}
	b.StopTimer()
	q := func(lat []time.Duration, p float64) float64 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	rawP50, rawP99, oursP50, oursP99 := q(raw, 0.5), q(raw, 0.99), q(ours, 0.5), q(ours, 0.99)
	b.ReportMetric(rawP50, "raw-p50-ms")
	b.ReportMetric(rawP99, "raw-p99-ms")
	b.ReportMetric(oursP50, "store-p50-ms")
	b.ReportMetric(oursP99, "store-p99-ms")
	b.ReportMetric(oursP50/rawP50, "p50-ratio")
	b.ReportMetric(oursP99/rawP99, "p99-ratio")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkManyEditorsVsRaw measures the bar "64 concurrent editors commit ≥ 10 × the raw
// db.Update loop's rate" in one run: rounds of raw edits (one per transaction, in a loop)
// and of the store's writer with 64 editors take turns, on files in the same directory. It
// reports each side's median rate over the rounds and the median of the per-round ratios.
func BenchmarkManyEditorsVsRaw(b *testing.B) {
	const editors, perEditor, rawPerRound = 64, 64, 400
	db, s := openRawAndStore(b)
	versions := make([]uint64, editors)
	for w := range versions {
		versions[w] = mustCreate(b, s, sample(fmt.Sprintf("E%03d", w), StageUnderConstruction)).Version
	}
	p := sample("RAW", StageUnderConstruction)
	var rawRates, storeRates, ratios []float64
	rawDone := 0
	b.ResetTimer()
	for done := 0; done < b.N; done += editors * perEditor {
		t0 := time.Now()
		for i := 0; i < rawPerRound; i++ {
			if err := rawEdit(db, p, rawDone); err != nil {
				b.Fatal(err)
			}
			rawDone++
		}
		raw := rawPerRound / time.Since(t0).Seconds()
		var wg sync.WaitGroup
		t0 = time.Now()
		for w := 0; w < editors; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < perEditor; i++ {
					r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: fmt.Sprintf("E%03d", w), IfMatch: versions[w],
						By: "bench", Patch: &Patch{Progress: ptr(int(versions[w] % 100))}})
					if err != nil {
						b.Error(err)
						return
					}
					versions[w] = r.Project.Version
				}
			}(w)
		}
		wg.Wait()
		ours := editors * perEditor / time.Since(t0).Seconds()
		rawRates, storeRates, ratios = append(rawRates, raw), append(storeRates, ours), append(ratios, ours/raw)
	}
	b.StopTimer()
	median := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
	b.ReportMetric(median(rawRates), "raw-commits/s")
	b.ReportMetric(median(storeRates), "store-commits/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(0, "ns/op")
}
