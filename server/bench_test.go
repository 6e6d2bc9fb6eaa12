package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"projectboard/store"
)

// BenchmarkHTTPPatch measures the full PATCH path over real loopback TCP: HTTP parsing,
// auth by api token, decoding, the store's writer and its fsync, and the JSON answer. Each
// editor changes its own project, so no edit is refused.
func BenchmarkHTTPPatch(b *testing.B) {
	for _, editors := range []int{1, 8, 32, 64} {
		b.Run(fmt.Sprintf("editors=%d", editors), func(b *testing.B) {
			benchPatch(b, startLive(b), editors)
		})
	}
}

func benchPatch(b *testing.B, l *live, editors int) {
	var projects []store.Project
	for i := 0; i < editors; i++ {
		p := store.Project{ID: fmt.Sprintf("B%03d", i), Name: "bench", Category: store.CategoryPlanned, Year: 2022,
			Sector: "数字经济", Department: "经济发展局", Stage: store.StageUnderConstruction}
		projects = append(projects, p)
	}
	if err := l.st.Seed(projects, "bench", ""); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: editors}}
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
			mine := make([]time.Duration, 0, n)
			for i := 0; i < n; i++ {
				req, _ := http.NewRequest("PATCH", "http://"+l.addr+"/api/projects/"+id,
					strings.NewReader(fmt.Sprintf(`{"progress":%d}`, (i+1)%100)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("If-Match", etag(uint64(i+1)))
				req.Header.Set("Authorization", "Bearer "+l.f.api)
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Errorf("PATCH %s: %d", id, res.StatusCode)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(projects[w].ID, n)
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "edits/s")
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
