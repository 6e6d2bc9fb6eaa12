package notify

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"projectboard/store"
)

func openStore(tb testing.TB, path string) *store.Store {
	tb.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func newStore(tb testing.TB) *store.Store {
	tb.Helper()
	st := openStore(tb, filepath.Join(tb.TempDir(), "notify.db"))
	tb.Cleanup(func() { st.Close() })
	return st
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fastOptions retry after milliseconds.
func fastOptions() Options {
	return Options{Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quiet()}
}

func startNotifier(tb testing.TB, st *store.Store, opt Options) *Notifier {
	tb.Helper()
	n := New(st, opt)
	tb.Cleanup(n.Close)
	return n
}

// receiver is a local robot: it records every body and answers with answer(n), n counting
// requests from 1.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	got    chan struct{}
}

func newReceiver(tb testing.TB, answer func(n int, w http.ResponseWriter)) *receiver {
	tb.Helper()
	r := &receiver{got: make(chan struct{}, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(req.Body).Decode(&v); err != nil {
			tb.Errorf("receiver: body is not JSON: %v", err)
		}
		if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			tb.Errorf("receiver: Content-Type %q", ct)
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, v)
		n := len(r.bodies)
		r.mu.Unlock()
		answer(n, w)
		r.got <- struct{}{}
	}))
	tb.Cleanup(r.Close)
	return r
}

func ok(_ int, w http.ResponseWriter) { io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`) }

func (r *receiver) messages() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies...)
}

// wait waits for n more requests.
func (r *receiver) wait(tb testing.TB, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.got:
		case <-time.After(5 * time.Second):
			tb.Fatalf("receiver: got %d requests, want %d more", i, n-i)
		}
	}
}

func (r *receiver) url() string { return r.URL + "/cgi-bin/webhook/send?key=SECRET-KEY" }

func setHooks(tb testing.TB, st *store.Store, hooks ...store.Webhook) store.WebhookSettings {
	tb.Helper()
	cur, err := st.Webhooks()
	if err != nil {
		tb.Fatal(err)
	}
	cur.Hooks = hooks
	w, err := st.SetWebhooks(cur, cur.Version, "admin")
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func hook(id, kind, url string, events ...string) store.Webhook {
	return store.Webhook{ID: id, Name: "群机器人 " + id, URL: url, Kind: kind, Events: events, Enabled: true}
}

func warning(level store.WarningLevel, reasons ...store.WarningReason) store.Warning {
	if reasons == nil {
		reasons = []store.WarningReason{}
	}
	return store.Warning{Level: level, Reasons: reasons}
}

var (
	notStartedRed = store.WarningReason{Rule: store.RuleNotStarted, Level: store.LevelRed, Value: 4, Threshold: 3, Unit: "months",
		Date: "2022-03-01"}
	paceYellow = store.WarningReason{Rule: store.RuleInvestmentPace, Level: store.LevelYellow, Value: 12, Threshold: 10, Unit: "points",
		Actual: 71.3}
	overdueYellow = store.WarningReason{Rule: store.RuleProblemOverdue, Level: store.LevelYellow, Value: 2, Unit: "count"}
	missingYellow = store.WarningReason{Rule: store.RuleReportMissing, Level: store.LevelYellow, Date: "2022-11-05", Month: "2022-10"}
)

var rev uint64

// warnEvent is a committed update of a project's warning, as the live hook hands it over.
func warnEvent(id, name, unit string, from, to store.Warning) store.Event {
	rev++
	p := &store.Project{ID: id, Name: name, Department: unit, Leader: "王副主任", Warning: to, Version: 2}
	return store.Event{
		Change: store.Change{Rev: rev, ProjectID: id, ProjectName: name, By: store.SystemActor, Kind: store.ChangeUpdate,
			Fields: map[string]store.FieldChange{"warning": {From: from, To: to}}},
		Project: p,
	}
}

// waitDeliveries polls the log until done says so.
func waitDeliveries(tb testing.TB, st *store.Store, done func([]store.Delivery) bool) []store.Delivery {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ds, err := st.Deliveries(100)
		if err != nil {
			tb.Fatal(err)
		}
		if done(ds) {
			return ds
		}
		if time.Now().After(deadline) {
			tb.Fatalf("deliveries never settled: %+v", ds)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func settled(want int) func([]store.Delivery) bool {
	return func(ds []store.Delivery) bool {
		if len(ds) != want {
			return false
		}
		for _, d := range ds {
			if d.Status == store.DeliveryPending {
				return false
			}
		}
		return true
	}
}

func markdownOf(tb testing.TB, body map[string]any) map[string]any {
	tb.Helper()
	if body["msgtype"] != "markdown" {
		tb.Fatalf("msgtype %v, want markdown", body["msgtype"])
	}
	md, ok := body["markdown"].(map[string]any)
	if !ok {
		tb.Fatalf("no markdown object in %v", body)
	}
	return md
}

func TestRedTransitionSendsOneWeComMessage(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, ok)
	setHooks(t, st, hook("w1", store.WebhookWeCom, rcv.url(), store.EventProjectRed),
		hook("w2", store.WebhookWeCom, rcv.url(), store.EventProblemOverdue))
	n := startNotifier(t, st, fastOptions())
	n.Handle([]store.Event{
		warnEvent("P1", "长春影视产业园", "文化和旅游局", warning(store.LevelYellow, paceYellow), warning(store.LevelRed, paceYellow, notStartedRed)),
		// Not a turn to red: green → yellow, and red → red with another reason.
		warnEvent("P2", "新城大街快速路", "城乡建设局", warning(store.LevelGreen), warning(store.LevelYellow, paceYellow)),
		warnEvent("P3", "净月大街改造", "城乡建设局", warning(store.LevelRed, notStartedRed), warning(store.LevelRed, notStartedRed, paceYellow)),
	})
	rcv.wait(t, 1)
	ds := waitDeliveries(t, st, settled(1))
	msgs := rcv.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	content, _ := markdownOf(t, msgs[0])["content"].(string)
	for _, want := range []string{"长春影视产业园", "文化和旅游局", "王副主任", notStartedRed.Text("zh"), "/projects/P1", "红色"} {
		if !strings.Contains(content, want) {
			t.Errorf("content lacks %q:\n%s", want, content)
		}
	}
	if strings.Contains(content, paceYellow.Text("zh")) {
		t.Errorf("content names the yellow reason of a red project:\n%s", content)
	}
	d := ds[0]
	if d.Status != store.DeliverySent || d.Attempts != 1 || d.Hook != "w1" || d.Event != store.EventProjectRed || d.StatusCode != 200 || d.SentAt == nil {
		t.Fatalf("delivery %+v, want sent once to w1", d)
	}
	time.Sleep(20 * time.Millisecond)
	if got := len(rcv.messages()); got != 1 {
		t.Fatalf("got %d messages after settling, want 1", got)
	}
}

func TestRetriedWithBackoffUntilSent(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "busy")
			return
		}
		ok(n, w)
	})
	setHooks(t, st, hook("w1", store.WebhookWeCom, rcv.url(), store.EventProjectRed))
	opt := fastOptions()
	opt.Backoff = 20 * time.Millisecond
	n := startNotifier(t, st, opt)
	t0 := time.Now()
	n.Handle([]store.Event{warnEvent("P1", "长春影视产业园", "文化和旅游局", warning(store.LevelGreen), warning(store.LevelRed, notStartedRed))})
	rcv.wait(t, 3)
	ds := waitDeliveries(t, st, settled(1))
	if d := ds[0]; d.Status != store.DeliverySent || d.Attempts != 3 || d.LastError != "" || d.StatusCode != 200 {
		t.Fatalf("delivery %+v, want sent after 3 attempts", d)
	}
	// Waits of 20 and 40 ms between the three attempts.
	if took := time.Since(t0); took < 60*time.Millisecond {
		t.Fatalf("three attempts in %v: the backoff was not waited", took)
	}
}

func TestGivesUpAfterAttemptsOnRobotError(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) {
		io.WriteString(w, `{"errcode":93000,"errmsg":"invalid webhook url"}`)
	})
	setHooks(t, st, hook("w1", store.WebhookWeCom, rcv.url(), store.EventProjectRed))
	opt := fastOptions()
	opt.Attempts = 3
	n := startNotifier(t, st, opt)
	n.Handle([]store.Event{warnEvent("P1", "长春影视产业园", "", warning(store.LevelGreen), warning(store.LevelRed, notStartedRed))})
	ds := waitDeliveries(t, st, settled(1))
	d := ds[0]
	if d.Status != store.DeliveryFailed || d.Attempts != 3 || !strings.Contains(d.LastError, "errcode 93000") || d.NextAt != nil {
		t.Fatalf("delivery %+v, want failed after 3 attempts with errcode 93000", d)
	}
	if got := len(rcv.messages()); got != 3 {
		t.Fatalf("receiver got %d requests, want 3", got)
	}
}

func TestErrorsDoNotQuoteTheKey(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, ok)
	address := rcv.url()
	rcv.Close() // connection refused
	setHooks(t, st, hook("w1", store.WebhookWeCom, address, store.EventProjectRed))
	opt := fastOptions()
	opt.Attempts = 2
	n := startNotifier(t, st, opt)
	n.Handle([]store.Event{warnEvent("P1", "长春影视产业园", "", warning(store.LevelGreen), warning(store.LevelRed, notStartedRed))})
	d := waitDeliveries(t, st, settled(1))[0]
	if d.Status != store.DeliveryFailed || d.LastError == "" || strings.Contains(d.LastError, "SECRET") || strings.Contains(d.LastError, "key=") {
		t.Fatalf("delivery %+v: want failed, without the key in its error", d)
	}
	if got := store.MaskURL(address); strings.Contains(got, "SECRET") || !strings.HasSuffix(got, "/cgi-bin/…?…") {
		t.Fatalf("MaskURL: got %q", got)
	}
}

func TestHangingReceiverNeverBlocksHandle(t *testing.T) {
	st := newStore(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	setHooks(t, st, hook("w1", store.WebhookWeCom, hang.URL+"/?key=k", store.EventProjectRed))
	opt := fastOptions()
	opt.Client = &http.Client{Timeout: time.Minute}
	opt.Queue = 4
	n := New(st, opt)
	var worst time.Duration
	for i := 0; i < 2000; i++ {
		t0 := time.Now()
		n.Handle([]store.Event{warnEvent("P1", "长春影视产业园", "", warning(store.LevelGreen), warning(store.LevelRed, notStartedRed))})
		worst = max(worst, time.Since(t0))
	}
	if worst > 250*time.Millisecond { // a hanging robot would hold it for a minute
		t.Fatalf("Handle took up to %v with a hanging receiver", worst)
	}
	t0 := time.Now()
	n.Close()
	if took := time.Since(t0); took > 5*time.Second {
		t.Fatalf("Close took %v", took)
	}
	// Every reminder is accounted for: pending (in flight or queued at Close) or refused as
	// "queue full"; none was sent.
	ds, err := st.Deliveries(store.MaxDeliveries)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) == 0 {
		t.Fatal("no deliveries recorded")
	}
	for _, d := range ds {
		if d.Status == store.DeliverySent || (d.Status == store.DeliveryFailed && d.LastError != "queue full") {
			t.Fatalf("delivery %+v", d)
		}
	}
}

func TestQueueFullIsRecordedAsFailed(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, ok)
	setHooks(t, st, hook("w1", store.WebhookWeCom, rcv.url(), store.EventProjectRed))
	opt := fastOptions()
	opt.Queue = 1
	n := newNotifier(st, opt) // not started: the queue stays full
	t.Cleanup(n.Close)
	for _, id := range []string{"P1", "P2", "P3"} {
		n.Handle([]store.Event{warnEvent(id, "项目"+id, "", warning(store.LevelGreen), warning(store.LevelRed, notStartedRed))})
	}
	n.start()
	ds := waitDeliveries(t, st, settled(3))
	var sent, full int
	for _, d := range ds {
		switch {
		case d.Status == store.DeliverySent:
			sent++
		case d.Status == store.DeliveryFailed && d.LastError == "queue full" && d.Attempts == 0:
			full++
		}
	}
	if sent != 1 || full != 2 {
		t.Fatalf("sent %d, queue full %d; want 1 and 2: %+v", sent, full, ds)
	}
}

func TestReportMissingGroupsPerUnit(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, ok)
	setHooks(t, st, hook("w1", store.WebhookWeCom, rcv.url(), store.EventReportMissing))
	n := startNotifier(t, st, fastOptions())
	n.Handle([]store.Event{
		warnEvent("P1", "长春影视产业园", "文化和旅游局", warning(store.LevelGreen), warning(store.LevelYellow, missingYellow)),
		warnEvent("P2", "新城大街快速路", "城乡建设局", warning(store.LevelYellow, paceYellow), warning(store.LevelYellow, paceYellow, missingYellow)),
		warnEvent("P3", "净月大街改造", "城乡建设局", warning(store.LevelGreen), warning(store.LevelYellow, missingYellow)),
		// Already missing before: not news.
		warnEvent("P4", "生态大街", "城乡建设局", warning(store.LevelYellow, missingYellow), warning(store.LevelYellow, missingYellow, paceYellow)),
	})
	rcv.wait(t, 2)
	waitDeliveries(t, st, settled(2))
	byUnit := map[string]string{}
	for _, m := range rcv.messages() {
		content := markdownOf(t, m)["content"].(string)
		for _, u := range []string{"文化和旅游局", "城乡建设局"} {
			if strings.Contains(content, "月报未报提醒："+u) {
				byUnit[u] = content
			}
		}
	}
	if len(byUnit) != 2 {
		t.Fatalf("want one message per unit, got %v", rcv.messages())
	}
	if c := byUnit["城乡建设局"]; !strings.Contains(c, "新城大街快速路") || !strings.Contains(c, "净月大街改造") ||
		strings.Contains(c, "生态大街") || !strings.Contains(c, "共 2 个项目") || !strings.Contains(c, missingYellow.Text("zh")) {
		t.Errorf("城乡建设局's message:\n%s", c)
	}
	if c := byUnit["文化和旅游局"]; !strings.Contains(c, "长春影视产业园") || strings.Contains(c, "新城大街快速路") {
		t.Errorf("文化和旅游局's message:\n%s", c)
	}
}

func TestProblemOverdueAndDingTalkBody(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, ok)
	setHooks(t, st, hook("d1", store.WebhookDingTalk, rcv.url(), store.EventProblemOverdue, store.EventProjectRed))
	n := startNotifier(t, st, fastOptions())
	n.Handle([]store.Event{
		warnEvent("P1", "长春影视产业园", "文化和旅游局", warning(store.LevelGreen), warning(store.LevelYellow, overdueYellow)),
	})
	rcv.wait(t, 1)
	waitDeliveries(t, st, settled(1))
	msgs := rcv.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	md := markdownOf(t, msgs[0])
	if len(md) != 2 {
		t.Errorf("markdown has %v, want title and text only", md)
	}
	title, _ := md["title"].(string)
	text, _ := md["text"].(string)
	if !strings.Contains(title, "长春影视产业园") || !strings.Contains(text, overdueYellow.Text("zh")) || !strings.Contains(text, "问题逾期") {
		t.Fatalf("title %q, text:\n%s", title, text)
	}
	if _, ok := md["content"]; ok {
		t.Error("a DingTalk body has WeCom's content")
	}
}

func TestRestartResumesPendingDelivery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "restart.db")
	st := openStore(t, path)
	down := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	setHooks(t, st, hook("w1", store.WebhookWeCom, down.url(), store.EventProjectRed))
	opt := fastOptions()
	opt.Backoff, opt.MaxBackoff = time.Hour, time.Hour // after the first failure it waits
	n := New(st, opt)
	n.Handle([]store.Event{warnEvent("P1", "长春影视产业园", "", warning(store.LevelGreen), warning(store.LevelRed, notStartedRed))})
	down.wait(t, 1)
	waitDeliveries(t, st, func(ds []store.Delivery) bool { return len(ds) == 1 && ds[0].Attempts == 1 })
	n.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The robot is back (at a new address) and the clock has passed the next attempt.
	st = openStore(t, path)
	defer st.Close()
	up := newReceiver(t, ok)
	setHooks(t, st, hook("w1", store.WebhookWeCom, up.url(), store.EventProjectRed))
	opt.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	n = New(st, opt)
	defer n.Close()
	up.wait(t, 1)
	d := waitDeliveries(t, st, settled(1))[0]
	if d.Status != store.DeliverySent || d.Attempts != 2 {
		t.Fatalf("delivery %+v, want sent at the second attempt", d)
	}
	if content := markdownOf(t, up.messages()[0])["content"].(string); !strings.Contains(content, "长春影视产业园") {
		t.Fatalf("resumed message: %s", content)
	}
}

func TestRemovedOrDisabledHookFailsItsDeliveries(t *testing.T) {
	st := newStore(t)
	down := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	setHooks(t, st, hook("w1", store.WebhookWeCom, down.url(), store.EventProjectRed))
	opt := fastOptions()
	opt.Backoff = 100 * time.Millisecond
	n := startNotifier(t, st, opt)
	n.Handle([]store.Event{warnEvent("P1", "长春影视产业园", "", warning(store.LevelGreen), warning(store.LevelRed, notStartedRed))})
	down.wait(t, 1)
	disabled := hook("w1", store.WebhookWeCom, down.url(), store.EventProjectRed)
	disabled.Enabled = false
	setHooks(t, st, disabled)
	d := waitDeliveries(t, st, settled(1))[0]
	if d.Status != store.DeliveryFailed || d.Attempts != 2 || d.LastError != "the webhook was disabled" {
		t.Fatalf("delivery %+v", d)
	}
}

func TestManyRedProjectsShareOneMessage(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, ok)
	setHooks(t, st, hook("w1", store.WebhookWeCom, rcv.url(), store.EventProjectRed))
	s, _ := st.Webhooks()
	s.BaseURL = "https://board.example.org/"
	if _, err := st.SetWebhooks(s, s.Version, "admin"); err != nil {
		t.Fatal(err)
	}
	n := startNotifier(t, st, fastOptions())
	var events []store.Event
	for i := 0; i < 30; i++ {
		id := "P" + string(rune('A'+i))
		events = append(events, warnEvent(id, "项目"+id, "城乡建设局", warning(store.LevelYellow, paceYellow), warning(store.LevelRed, notStartedRed)))
	}
	n.Handle(events)
	rcv.wait(t, 1)
	waitDeliveries(t, st, settled(1))
	content := markdownOf(t, rcv.messages()[0])["content"].(string)
	for _, want := range []string{"30 个项目", "项目PA", "[查看](https://board.example.org/projects/PA)", "另有 10 个项目"} {
		if !strings.Contains(content, want) {
			t.Errorf("content lacks %q:\n%s", want, content)
		}
	}
	if len(content) > maxContentBytes {
		t.Errorf("content of %d bytes", len(content))
	}
}

func TestDeriveSkipsWhatIsNotATurn(t *testing.T) {
	red := warning(store.LevelRed, notStartedRed)
	created := warnEvent("P1", "a", "", warning(store.LevelGreen), red)
	created.Change.Kind = store.ChangeCreate
	first := warnEvent("P2", "b", "", store.Warning{}, red) // never evaluated before
	noFrom := warnEvent("P3", "c", "", warning(store.LevelGreen), red)
	noFrom.Change.Fields["warning"] = store.FieldChange{From: nil, To: red}
	other := warnEvent("P4", "d", "", warning(store.LevelGreen), red)
	other.Change.Fields = map[string]store.FieldChange{"progress": {From: 1, To: 2}}
	if got := derive([]store.Event{created, first, noFrom, other}); len(got) != 0 {
		t.Fatalf("got %+v, want nothing", got)
	}
}

func TestDeriveReadsReplayedWarnings(t *testing.T) {
	// A replayed change has its warning as decoded JSON.
	e := warnEvent("P1", "长春影视产业园", "文化和旅游局", warning(store.LevelGreen), warning(store.LevelRed, notStartedRed, overdueYellow))
	raw, err := json.Marshal(e.Change)
	if err != nil {
		t.Fatal(err)
	}
	var c store.Change
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	e.Change = c
	e.Project.Warning = store.Warning{}
	got := derive([]store.Event{e, e}) // the same project twice counts once
	if len(got) != 2 || got[0].Event != store.EventProjectRed || got[1].Event != store.EventProblemOverdue ||
		len(got[0].Items) != 1 || got[0].Items[0].Reasons[0] != notStartedRed {
		t.Fatalf("got %+v", got)
	}
}

func TestDeliveryLogKeepsTheNewest(t *testing.T) {
	st := newStore(t)
	for i := 0; i < 3; i++ {
		batch := make([]store.Delivery, 400)
		for j := range batch {
			batch[j] = store.Delivery{Hook: "w1", Event: store.EventProjectRed, Status: store.DeliverySent}
		}
		if _, err := st.AppendDelivery(batch...); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := st.Deliveries(5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != store.MaxDeliveries || ds[0].Seq != 1200 || ds[len(ds)-1].Seq != 201 {
		t.Fatalf("got %d deliveries, %d … %d; want 1000, 1200 … 201", len(ds), ds[0].Seq, ds[len(ds)-1].Seq)
	}
	if err := st.UpdateDelivery(store.Delivery{Seq: 5}); err == nil {
		t.Fatal("updating a trimmed delivery: no error")
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestTestMessage(t *testing.T) {
	st := newStore(t)
	rcv := newReceiver(t, ok)
	n := startNotifier(t, st, fastOptions())
	d, err := n.Test(t.Context(), hook("", store.WebhookWeCom, rcv.url()))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.DeliverySent || d.Event != store.EventTest || d.Seq == 0 || d.Attempts != 1 {
		t.Fatalf("delivery %+v", d)
	}
	if c := markdownOf(t, rcv.messages()[0])["content"].(string); !strings.Contains(c, "测试消息") {
		t.Fatalf("content %q", c)
	}
}
