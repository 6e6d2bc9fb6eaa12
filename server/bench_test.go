package server

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"

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
	// fasthttp's client: net/http's took a third of the two cores in this benchmark, time the
	// server then did not get; the clients of a real server are on other machines.
	client := &fasthttp.Client{MaxConnsPerHost: editors}
	commits0 := transactions(b, l.srv)
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
				req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				req.Header.SetMethod("PATCH")
				req.SetRequestURI("http://" + l.addr + "/api/projects/" + id)
				req.Header.SetContentType("application/json")
				req.Header.Set("If-Match", etag(uint64(i+1)))
				req.Header.Set("Authorization", "Bearer "+l.f.api)
				req.SetBodyString(fmt.Sprintf(`{"progress":%d}`, (i+1)%100))
				t0 := time.Now()
				err := client.Do(req, res)
				status := res.StatusCode()
				fasthttp.ReleaseRequest(req)
				fasthttp.ReleaseResponse(res)
				if err != nil {
					b.Error(err)
					return
				}
				if status != 200 {
					b.Errorf("PATCH %s: %d", id, status)
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
	if n := transactions(b, l.srv) - commits0; n > 0 {
		b.ReportMetric(float64(len(lat))/float64(n), "edits/commit")
	}
}

// transactions is how many transactions the store's writer has committed, from /metrics.
func transactions(b *testing.B, s *Server) uint64 {
	var m dto.Metric
	if err := s.metrics.batchSize.Write(&m); err != nil {
		b.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
