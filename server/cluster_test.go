package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/server/feedwire"
	"projectboard/store"
	"projectboard/store/etcdlog"
	"projectboard/store/etcdlog/etcdtest"
)

// instance is one server of a cluster, on a real port.
type instance struct {
	addr string
	st   *store.Store
	srv  *Server
	done chan error
}

// startInstance starts an instance whose client talks to one member (member ≥ 0), or to
// all of them (member < 0), as a deployment's would.
func startInstance(t testing.TB, c *etcdtest.Cluster, member int, configure ...func(*Config)) *instance {
	t.Helper()
	return startInstanceWith(t, c, member, store.Options{}, configure...)
}

// startInstanceWith is startInstance with store options (the log and the hashing are set here).
func startInstanceWith(t testing.TB, c *etcdtest.Cluster, member int, opt store.Options, configure ...func(*Config)) *instance {
	t.Helper()
	var endpoints []string
	if member >= 0 {
		endpoints = []string{c.Members()[member%len(c.Members())].ClientURL}
	}
	cli := c.Client(t, endpoints...)
	opt.PasswordParams, opt.Log = fastHash, etcdlog.New(cli, "/pb/")
	st, err := store.Open(filepath.Join(t.TempDir(), "view.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{addr: ln.Addr().String(), st: st, done: make(chan error, 1)}
	cfg := Config{Build: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AdvertiseURL: "http://" + in.addr}
	for _, f := range configure {
		f(&cfg)
	}
	in.srv = New(st, cfg)
	go func() { in.done <- in.srv.App().Listener(ln) }()
	st.Campaign("http://" + in.addr)
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop shuts the server down and closes its store, as an instance that goes away.
func (in *instance) stop(t testing.TB) {
	if in.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in.st.Resign() // as serve's shutdown does
	_ = in.srv.Shutdown(ctx)
	<-in.done
	in.st.Close()
	in.srv = nil
}

func (in *instance) request(t *testing.T, method, path, body string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+in.addr+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", "http://"+in.addr)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// screen is a wall screen's connection, holding its board in a feedwire.State.
type screen struct {
	ws *websocket.Conn
}

// dialScreen connects to in's feed with the display token, resuming st when it holds a board.
func dialScreen(t *testing.T, in *instance, token string, st *feedwire.State) *screen {
	t.Helper()
	q := "token=" + token
	if st.Held() {
		q += fmt.Sprintf("&since=%d&epoch=%s", st.Rev, st.Epoch)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("ws://"+in.addr+"/ws?"+q, http.Header{"Origin": {"http://" + in.addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &screen{ws: ws}
}

// screenChanges reads from a screen until it holds rev, and returns the changes' revisions it
// read, failing on a snapshot when noSnapshot.
func screenChanges(t *testing.T, conn *screen, st *feedwire.State, rev uint64, noSnapshot bool) []uint64 {
	t.Helper()
	var revs []uint64
	_ = conn.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for st.Rev < rev || !st.Held() {
		_, frame, err := conn.ws.ReadMessage()
		if err != nil {
			t.Fatalf("screen at %d waiting for %d: %v", st.Rev, rev, err)
		}
		msgs, err := feedwire.Decode(frame)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := st.Apply(m); err != nil {
				t.Fatalf("screen at %d: %v", st.Rev, err)
			}
			switch m.Type {
			case feedwire.TypeSnapshot:
				if noSnapshot {
					t.Fatalf("the screen was sent a snapshot at %d; it should have resumed", m.Rev)
				}
			case feedwire.TypeChange:
				revs = append(revs, m.Rev)
			}
		}
	}
	return revs
}

func TestClusterTwoInstancesOneBoard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-member etcd cluster")
	}
	c := etcdtest.New(t, etcdtest.Options{})
	a := startInstance(t, c, 0)
	if err := a.st.Seed([]store.Project{
		{ID: "P1", Name: "长春影视产业园", Category: store.CategoryPlanned, Year: 2022, Sector: "影视文旅",
			Department: "文化和旅游局", Stage: store.StagePreparing, InvestmentYuan: 3_500_000_000, AnnualPlanYuan: 900_000_000},
	}, "system", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.AddUser(store.User{Username: "editor", Role: store.RoleEditor}, testPassword); err != nil {
		t.Fatal(err)
	}
	_, display, err := a.st.CreateToken(store.Token{Kind: "display", Name: "wall"})
	if err != nil {
		t.Fatal(err)
	}
	b := startInstance(t, c, -1) // all three members: its appends go to the leader

	// A login on one instance is a login on the other.
	res := a.request(t, "POST", "/api/session", fmt.Sprintf(`{"username":"editor","password":%q}`, testPassword), nil)
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	var cookie string
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie {
			cookie = sessionCookie + "=" + ck.Value
		}
	}
	as := map[string]string{"Cookie": cookie}
	if res := b.request(t, "GET", "/api/projects/P1", "", as); res.StatusCode != 200 {
		t.Fatalf("the session made on A is refused on B: %d", res.StatusCode)
	}

	// A screen on each instance; an edit on A reaches both with the same revision.
	screens := map[string]*feedwire.State{"A": {}, "B": {}}
	conns := map[string]*screen{}
	for name, in := range map[string]*instance{"A": a, "B": b} {
		conn := dialScreen(t, in, display, screens[name])
		conns[name] = conn
		screenChanges(t, conn, screens[name], 0, false)
	}
	edit := func(in *instance, version uint64, progress int) *http.Response {
		return in.request(t, "PATCH", "/api/projects/P1", fmt.Sprintf(`{"progress":%d}`, progress),
			map[string]string{"Cookie": cookie, "If-Match": etag(version)})
	}
	res = edit(a, 1, 10)
	if res.StatusCode != 200 {
		t.Fatalf("edit on A: %d", res.StatusCode)
	}
	rev := a.st.Rev()
	for name, conn := range conns {
		if got := screenChanges(t, conn, screens[name], rev, true); len(got) != 1 || got[0] != rev {
			t.Fatalf("screen on %s read %v, want [%d]", name, got, rev)
		}
	}
	if screens["A"].Epoch != screens["B"].Epoch || string(screens["A"].Projects["P1"]) != string(screens["B"].Projects["P1"]) {
		t.Fatal("the two screens hold different boards")
	}

	// Each instance reports where it stands, and one of them is the writer (once elected).
	clusterMetrics := func(in *instance) map[string]float64 {
		got := map[string]float64{}
		mfs, err := in.srv.metrics.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "projectboard_cluster_") && len(mf.GetMetric()) == 1 {
				m := mf.GetMetric()[0]
				got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
		return got
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ma, mb := clusterMetrics(a), clusterMetrics(b)
		if ma["projectboard_cluster_applied_entry"] < 1 || mb["projectboard_cluster_applied_entry"] < 1 {
			t.Fatalf("applied entries reported: %v, %v", ma, mb)
		}
		writers := ma["projectboard_cluster_writer"] + mb["projectboard_cluster_writer"]
		// A has one endpoint, nothing to choose; B finds the leader among its three.
		toLeader := ma["projectboard_cluster_appends_to_leader"] == 0 && mb["projectboard_cluster_appends_to_leader"] == 1
		if writers == 1 && toLeader {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v instances report being the writer (want 1); appends to the leader: A %v (want 0), B %v (want 1)",
				writers, ma["projectboard_cluster_appends_to_leader"], mb["projectboard_cluster_appends_to_leader"])
		}
	}

	// If-Match holds across instances: B refuses the version A moved on from.
	if res := edit(b, 1, 20); res.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("a stale edit on B: %d, want 412", res.StatusCode)
	}
	// And takes the current one, though A made it a moment ago.
	if res := edit(b, 2, 30); res.StatusCode != 200 {
		t.Fatalf("an edit on B of the version A made: %d", res.StatusCode)
	}

	// A goes away; its screen resumes on B from its revision, without a snapshot, and
	// gets what was committed meanwhile, in order.
	held := screens["A"]
	conns["A"].ws.Close()
	a.stop(t)
	if res := edit(b, 3, 40); res.StatusCode != 200 {
		t.Fatalf("an edit on B with A gone: %d", res.StatusCode)
	}
	conn := dialScreen(t, b, display, held)
	if got := screenChanges(t, conn, held, b.st.Rev(), true); len(got) != 2 || got[0] != rev+1 || got[1] != rev+2 {
		t.Fatalf("the screen moved to B read %v, want [%d %d]", got, rev+1, rev+2)
	}
}

func TestClusterFullIs503WithItsOwnCode(t *testing.T) {
	e := toAPIError(fmt.Errorf("commit: %w", store.ErrClusterFull))
	if e.Status != http.StatusServiceUnavailable || e.Code != "cluster_full" {
		t.Fatalf("got %d %q, want 503 cluster_full", e.Status, e.Code)
	}
}

func TestClusterQuorumLostStopsScreensNotReads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-member etcd cluster")
	}
	c := etcdtest.New(t, etcdtest.Options{})
	a := startInstance(t, c, 0, func(cfg *Config) { cfg.CutOffGrace = time.Second })
	if err := a.st.Seed([]store.Project{{ID: "P1", Name: "长春影视产业园", Category: store.CategoryPlanned, Year: 2022,
		Sector: "影视文旅", Department: "文化和旅游局", Stage: store.StagePreparing, InvestmentYuan: 3_500_000_000}}, "system", "test"); err != nil {
		t.Fatal(err)
	}
	_, display, err := a.st.CreateToken(store.Token{Kind: "display", Name: "wall"})
	if err != nil {
		t.Fatal(err)
	}
	held := &feedwire.State{}
	conn := dialScreen(t, a, display, held)
	screenChanges(t, conn, held, a.st.Rev(), false)

	// Two of three members go: no quorum. The screen is closed, a new one refused; reads go on.
	c.Stop(c.Members()[1])
	c.Stop(c.Members()[2])
	_ = conn.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, _, err := conn.ws.ReadMessage(); err == nil {
		t.Fatal("the screen got a message from an instance cut off from the cluster")
	}
	q := fmt.Sprintf("token=%s&since=%d&epoch=%s", display, held.Rev, held.Epoch)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if ws, res, err := d.Dial("ws://"+a.addr+"/ws?"+q, http.Header{"Origin": {"http://" + a.addr}}); err == nil {
		ws.Close()
		t.Fatal("a cut-off instance accepted a screen")
	} else if res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a cut-off instance answered a screen's handshake %v, want 503", res)
	}
	t0 := time.Now()
	if res := a.request(t, "GET", "/api/projects/P1", "", map[string]string{"Authorization": "Bearer " + display}); res.StatusCode != 200 {
		t.Fatalf("a read on a cut-off instance: %d", res.StatusCode)
	}
	if d := time.Since(t0); d > 1500*time.Millisecond {
		t.Fatalf("a read on a cut-off instance took %v", d)
	}

	// The quorum is back: the screen resumes from its revision.
	if err := c.Restart(c.Members()[1]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ws, _, err := d.Dial("ws://"+a.addr+"/ws?"+q, http.Header{"Origin": {"http://" + a.addr}})
		if err == nil {
			ws.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("screens still refused with the quorum back: %v", err)
		}
	}
	if err := c.Restart(c.Members()[2]); err != nil {
		t.Fatal(err)
	}
}

// An instance cut off from etcd while the log was rebased and pruned past it, and etcd's
// history compacted, loads the newest base when it is back — and closes its screens, which
// resume from their revision (the view holds the whole change log) without a snapshot.
func TestClusterInstanceThatLoadedABaseRestartsItsScreens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-member etcd cluster")
	}
	c := etcdtest.New(t, etcdtest.Options{})
	opt := store.Options{RebaseEvery: 4}
	a := startInstanceWith(t, c, 0, opt)
	// b's screens must not be closed for being cut off: only the reload may close them here.
	b := startInstanceWith(t, c, 1, opt, func(cfg *Config) { cfg.CutOffGrace = time.Hour })
	if err := a.st.Seed([]store.Project{{ID: "P1", Name: "长春影视产业园", Category: store.CategoryPlanned, Year: 2022,
		Sector: "影视文旅", Department: "文化和旅游局", Stage: store.StageUnderConstruction, InvestmentYuan: 3_500_000_000}}, "system", "test"); err != nil {
		t.Fatal(err)
	}
	_, display, err := a.st.CreateToken(store.Token{Kind: "display", Name: "wall"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); b.st.Applied() < a.st.Applied(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b did not catch up")
		}
	}
	held := &feedwire.State{}
	conn := dialScreen(t, b, display, held)
	screenChanges(t, conn, held, a.st.Rev(), false)

	c.Stop(c.Members()[1])
	for i := 0; i < 14; i++ {
		p, err := a.st.Project("P1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.st.Apply(store.Edit{Kind: store.ChangeUpdate, ProjectID: "P1", IfMatch: p.Version, By: "li",
			Patch: &store.Patch{Progress: ptrTo(p.Progress + 1)}}); err != nil {
			t.Fatal(err)
		}
	}
	cli := c.Client(t, c.Members()[0].ClientURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for deadline := time.Now().Add(10 * time.Second); a.st.Base().Entry+4 < a.st.Applied(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no base near entry %d (newest at %d)", a.st.Applied(), a.st.Base().Entry)
		}
	}
	head, err := cli.Get(ctx, "/pb/head")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, head.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(c.Members()[1]); err != nil {
		t.Fatal(err)
	}

	// b loads the base and closes the screen …
	_ = conn.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := conn.ws.ReadMessage(); err != nil {
			break
		}
	}
	if b.st.Reloads() != 1 {
		t.Fatalf("b loaded a base %d times while running, want 1", b.st.Reloads())
	}
	// … which resumes there from its revision, without a snapshot, up to a's revision.
	before := held.Rev
	again := dialScreen(t, b, display, held)
	revs := screenChanges(t, again, held, a.st.Rev(), true)
	if len(revs) == 0 || revs[0] != before+1 || held.Rev != a.st.Rev() {
		t.Fatalf("the screen resumed at %d with changes %v, want %d… up to %d", before, revs, before+1, a.st.Rev())
	}
}
