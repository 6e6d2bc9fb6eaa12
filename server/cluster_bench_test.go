package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"projectboard/store"
	"projectboard/store/etcdlog/etcdtest"
)

// clusterBench is three instances on a 3-member cluster (all in this process), an editor
// token, and a bare etcd client for the baseline, whose Txn carries as many bytes as one
// edit's entry.
type clusterBench struct {
	instances []*instance
	token     string
	bare      *clientv3.Client
	entry     string // a value of one edit's entry's size
	next      int
}

func newClusterBench(b *testing.B, projects, instances int) *clusterBench {
	c := etcdtest.New(b, etcdtest.Options{})
	cb := &clusterBench{}
	for i := 0; i < instances; i++ {
		cb.instances = append(cb.instances, startInstance(b, c, -1))
		if i == 0 {
			var ps []store.Project
			for j := 0; j < projects; j++ {
				ps = append(ps, store.Project{ID: fmt.Sprintf("B%03d", j), Name: "bench", Category: store.CategoryPlanned,
					Year: 2022, Sector: "数字经济", Department: "经济发展局", Stage: store.StageUnderConstruction})
			}
			st := cb.instances[0].st
			if err := st.Seed(ps, "bench", ""); err != nil {
				b.Fatal(err)
			}
			if _, err := st.AddUser(store.User{Username: "editor", Role: store.RoleEditor}, testPassword); err != nil {
				b.Fatal(err)
			}
			var err error
			if _, cb.token, err = st.CreateToken(store.Token{Kind: "api", Name: "bench", Role: store.RoleEditor, Owner: "editor"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	cb.bare = c.Client(b)
	// One edit, to learn its entry's size: the last entry of the log.
	client := &fasthttp.Client{}
	if _, err := cb.patch(client, cb.instances[0], "B000", 1); err != nil {
		b.Fatal(err)
	}
	resp, err := cb.bare.Get(context.Background(), "/pb/log/", clientv3.WithLastKey()...)
	if err != nil || len(resp.Kvs) == 0 {
		b.Fatalf("the edit's entry: %v", err)
	}
	cb.entry = string(resp.Kvs[0].Value)
	b.ReportMetric(float64(len(cb.entry)), "entry-bytes")
	return cb
}

// patch sends one edit of version — always a change: the progress it sets depends on the
// version — and returns how long it took.
func (cb *clusterBench) patch(client *fasthttp.Client, in *instance, id string, version uint64) (time.Duration, error) {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.Header.SetMethod("PATCH")
	req.SetRequestURI("http://" + in.addr + "/api/projects/" + id)
	req.Header.SetContentType("application/json")
	req.Header.Set("If-Match", etag(version))
	req.Header.Set("Authorization", "Bearer "+cb.token)
	req.SetBodyString(fmt.Sprintf(`{"progress":%d}`, version%99+1))
	t0 := time.Now()
	if err := client.Do(req, res); err != nil {
		return 0, err
	}
	if res.StatusCode() != 200 {
		body := string(res.Body())
		if i := strings.Index(body, `"version":`); i >= 0 {
			body = body[i:min(len(body), i+130)]
		}
		return 0, fmt.Errorf("PATCH %s on %s If-Match %d: %d %s", id, in.addr, version, res.StatusCode(), body)
	}
	return time.Since(t0), nil
}

// txn is the bare baseline: one Txn putting the entry's bytes under a new key.
func (cb *clusterBench) txn() (time.Duration, error) {
	cb.next++
	t0 := time.Now()
	_, err := cb.bare.Txn(context.Background()).Then(clientv3.OpPut(fmt.Sprintf("/bare/%020d", cb.next), cb.entry)).Commit()
	return time.Since(t0), err
}

func quantileMs(d []time.Duration, q float64) float64 {
	slices.Sort(d)
	return float64(d[int(q*float64(len(d)-1))]) / float64(time.Millisecond)
}

// BenchmarkClusterHTTP measures the cluster's bars against a bare etcd client in the same
// run, three instances and three members sharing this process's two cores:
//
//   - editors=1: one editor's PATCHes to one instance and the bare Txn of the same size take
//     turns; p99 of each and their ratio (the bar: ≤ 1.5). With one instance, and with three —
//     whose other two apply every entry on the same two cores, as they would on machines of
//     their own. Two ways of taking turns. alternate=50: rounds of 50 of each, each request
//     sent as soon as the one before was answered — so the bare Txns run back to back, which
//     keeps etcd's goroutines running between them, while an editor's append always follows
//     the server's work on the request before (a bare Txn sent 0.4 ms after the one before
//     took 0.1–0.15 ms longer at the median); and a burst of load elsewhere may fall on one
//     side's round only. alternate=1/settle=1ms: one PATCH, then one Txn, each sent 1 ms
//     after the one before was answered, so both start from the same quiet machine and
//     neither side's leftover work (etcd's followers, the instance's watch) falls into the
//     other's time.
//   - editors=64: 64 editors spread over the three instances, each on a project of its own,
//     against the bare single-client Txn rate measured in rounds between theirs (the bar: the
//     ratio ≥ 5).
func BenchmarkClusterHTTP(b *testing.B) {
	for _, instances := range []int{1, 3} {
		for _, v := range []struct {
			name   string
			turn   int
			settle time.Duration
		}{{"alternate=50", 50, 0}, {"alternate=1/settle=1ms", 1, time.Millisecond}} {
			b.Run(fmt.Sprintf("editors=1/instances=%d/%s", instances, v.name), func(b *testing.B) {
				cb := newClusterBench(b, 1, instances)
				client := &fasthttp.Client{}
				version := uint64(2)
				var httpLat, txnLat []time.Duration
				b.ResetTimer()
				for done := 0; done < b.N; {
					n := min(v.turn, b.N-done)
					for i := 0; i < n; i++ {
						time.Sleep(v.settle)
						d, err := cb.patch(client, cb.instances[0], "B000", version)
						if err != nil {
							b.Fatal(err)
						}
						version++
						httpLat = append(httpLat, d)
					}
					for i := 0; i < n; i++ {
						time.Sleep(v.settle)
						d, err := cb.txn()
						if err != nil {
							b.Fatal(err)
						}
						txnLat = append(txnLat, d)
					}
					done += n
				}
				hp99, tp99 := quantileMs(httpLat, 0.99), quantileMs(txnLat, 0.99)
				b.ReportMetric(quantileMs(httpLat, 0.5), "http-p50-ms")
				b.ReportMetric(hp99, "http-p99-ms")
				b.ReportMetric(quantileMs(txnLat, 0.5), "txn-p50-ms")
				b.ReportMetric(tp99, "txn-p99-ms")
				b.ReportMetric(hp99/tp99, "p99-ratio")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
	b.Run("editors=64", func(b *testing.B) {
		const editors, rounds = 64, 4
		cb := newClusterBench(b, editors, 3)
		clients := make([]*fasthttp.Client, 3)
		for i := range clients {
			clients[i] = &fasthttp.Client{MaxConnsPerHost: editors}
		}
		versions := make([]uint64, editors)
		for i := range versions {
			versions[i] = 1
		}
		versions[0] = 2 // newClusterBench's edit
		var httpRates, txnRates []float64
		b.ResetTimer()
		per := max(1, b.N/rounds/editors)
		for r := 0; r < rounds; r++ {
			// The bare single client, for as long as about a tenth of the edits take it.
			t0 := time.Now()
			n := max(20, per*editors/10)
			for i := 0; i < n; i++ {
				if _, err := cb.txn(); err != nil {
					b.Fatal(err)
				}
			}
			txnRates = append(txnRates, float64(n)/time.Since(t0).Seconds())

			var wg sync.WaitGroup
			t0 = time.Now()
			for w := 0; w < editors; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					in := cb.instances[w%3]
					for i := 0; i < per; i++ {
						if _, err := cb.patch(clients[w%3], in, fmt.Sprintf("B%03d", w), versions[w]); err != nil {
							b.Error(err)
							return
						}
						versions[w]++
					}
				}(w)
			}
			wg.Wait()
			httpRates = append(httpRates, float64(per*editors)/time.Since(t0).Seconds())
		}
		if head := cb.instances[0].st.Applied(); head > 0 {
			b.ReportMetric(float64(per*editors*rounds)/float64(head), "edits/entry")
		}
		slices.Sort(httpRates)
		slices.Sort(txnRates)
		h, t := httpRates[len(httpRates)/2], txnRates[len(txnRates)/2]
		b.ReportMetric(h, "http-edits/s")
		b.ReportMetric(t, "txn/s")
		b.ReportMetric(h/t, "ratio")
		b.ReportMetric(0, "ns/op")
	})
}
