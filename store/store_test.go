package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	bolt "go.etcd.io/bbolt"
)

var fastHash = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// openTest opens a store on a fresh file in t.TempDir and checks the file when the test ends.
func openTest(tb testing.TB, path string) *Store {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "test.db")
	}
	s, err := Open(path, Options{PasswordParams: fastHash})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Check(); err != nil {
			tb.Errorf("consistency check: %v", err)
		}
		s.Close()
	})
	return s
}

func sample(id string, stage Stage) *Project {
	return &Project{ID: id, Name: "项目 " + id, Category: CategoryPlanned, Year: 2022, Sector: "数字经济",
		Department: "经济发展局", Stage: stage, InvestmentYuan: 100_000_000, AnnualPlanYuan: 40_000_000,
		InvestmentCompletedYuan: 10_000_000, PlannedCompletion: "2022-12-31"}
}

func mustCreate(tb testing.TB, s *Store, p *Project) Project {
	tb.Helper()
	r, err := s.Apply(Edit{Kind: ChangeCreate, New: p, By: "tester"})
	if err != nil {
		tb.Fatalf("create %s: %v", p.ID, err)
	}
	return r.Project
}

func ptr[T any](v T) *T { return &v }

func TestRevisionsAndChangeLog(t *testing.T) {
	s := openTest(t, "")
	if s.Epoch() == "" {
		t.Fatal("new database has no epoch")
	}
	a := mustCreate(t, s, sample("A", StagePreparing))
	mustCreate(t, s, sample("B", StagePreparing))
	if a.Version != 1 || a.UpdatedBy != "tester" {
		t.Fatalf("got version %d by %q, want 1 by tester", a.Version, a.UpdatedBy)
	}
	r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, By: "ed",
		Patch: &Patch{Stage: ptr(StageUnderConstruction)}, Comment: "开工"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Change.Rev != 3 || r.Project.Version != 2 || r.Project.StartedAt == "" {
		t.Fatalf("got rev %d version %d startedAt %q, want 3, 2 and today", r.Change.Rev, r.Project.Version, r.Project.StartedAt)
	}
	want := map[string]FieldChange{"stage": {From: StagePreparing, To: StageUnderConstruction},
		"startedAt": {From: Date(""), To: r.Project.StartedAt}}
	if !reflect.DeepEqual(r.Change.Fields, want) {
		t.Fatalf("got fields %v, want %v", r.Change.Fields, want)
	}
	if _, err := s.Apply(Edit{Kind: ChangeDelete, ProjectID: "B", IfMatch: 1, By: "admin"}); err != nil {
		t.Fatal(err)
	}
	changes, err := s.Changes(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i, c := range changes {
		if c.Rev != uint64(i+1) {
			t.Fatalf("change %d has rev %d", i, c.Rev)
		}
		kinds = append(kinds, string(c.Kind)+":"+c.ProjectID)
	}
	if got := fmt.Sprint(kinds); got != "[create:A create:B update:A delete:B]" {
		t.Fatalf("got %s", got)
	}
	if changes[2].Comment != "开工" || changes[2].By != "ed" {
		t.Fatalf("got comment %q by %q", changes[2].Comment, changes[2].By)
	}
	hist, _ := s.ProjectChanges("A", 10)
	if len(hist) != 2 || hist[0].Rev != 3 || hist[1].Rev != 1 {
		t.Fatalf("got history %+v, want revs 3 then 1", hist)
	}
	if hist, _ := s.ProjectChanges("B", 1); len(hist) != 1 || hist[0].Kind != ChangeDelete {
		t.Fatalf("got %+v, want the delete only", hist)
	}
	if _, err := s.Project("B"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	ev, _ := s.Replay(2, 10)
	if len(ev) != 2 || ev[0].Project == nil || ev[0].Project.Stage != StageUnderConstruction || ev[1].Project != nil {
		t.Fatalf("replay after 2: got %+v", ev)
	}
}

func TestUpdateRefusals(t *testing.T) {
	s := openTest(t, "")
	mustCreate(t, s, sample("A", StagePreparing))
	tests := []struct {
		name string
		edit Edit
		is   func(error) bool
	}{
		{"stale version", Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 7, Patch: &Patch{Progress: ptr(5)}},
			func(err error) bool { var v *VersionMismatchError; return errors.As(err, &v) && v.Current.Version == 1 }},
		{"unknown project", Edit{Kind: ChangeUpdate, ProjectID: "Z", IfMatch: 1, Patch: &Patch{}},
			func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"progress over 100", Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, Patch: &Patch{Progress: ptr(101)}},
			func(err error) bool { var v *ValidationError; return errors.As(err, &v) && v.Field == "progress" }},
		{"negative money", Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, Patch: &Patch{InvestmentYuan: ptr(int64(-1))}},
			func(err error) bool { var v *ValidationError; return errors.As(err, &v) && v.Field == "investmentYuan" }},
		{"completed before started", Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1,
			Patch: &Patch{StartedAt: ptr(Date("2022-05-01")), CompletedAt: ptr(Date("2022-04-01"))}},
			func(err error) bool { var v *ValidationError; return errors.As(err, &v) && v.Field == "completedAt" }},
		{"another department's editor", Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, Patch: &Patch{Note: ptr("x")},
			Actor: &User{Role: RoleEditor, Departments: []string{"教育局"}}},
			func(err error) bool { return errors.Is(err, ErrForbidden) }},
		{"moved to another department", Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, Patch: &Patch{Department: ptr("教育局")},
			Actor: &User{Role: RoleEditor, Departments: []string{"经济发展局"}}},
			func(err error) bool { return errors.Is(err, ErrForbidden) }},
		{"a viewer", Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, Patch: &Patch{Note: ptr("x")},
			Actor: &User{Role: RoleViewer}},
			func(err error) bool { return errors.Is(err, ErrForbidden) }},
		{"duplicate create", Edit{Kind: ChangeCreate, New: sample("A", StagePreparing)},
			func(err error) bool { return errors.Is(err, ErrConflict) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Apply(tt.edit)
			if !tt.is(err) {
				t.Fatalf("got error %v", err)
			}
			if s.Rev() != 1 {
				t.Fatalf("got rev %d after a refused edit, want 1", s.Rev())
			}
		})
	}
	r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, Patch: &Patch{Progress: ptr(0)}})
	if err != nil || r.Change != nil || s.Rev() != 1 {
		t.Fatalf("no-op patch: got change %v, err %v, rev %d; want none, nil, 1", r.Change, err, s.Rev())
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "re.db")
	s, err := Open(path, Options{PasswordParams: fastHash})
	if err != nil {
		t.Fatal(err)
	}
	epoch := s.Epoch()
	for i := 0; i < 20; i++ {
		mustCreate(t, s, sample(fmt.Sprintf("P%02d", i), StageUnderConstruction))
	}
	before := s.Summary(SummaryFilter{})
	projects, _ := s.Projects()
	s.Close()

	s2 := openTest(t, path)
	if s2.Epoch() != epoch || s2.Rev() != 20 {
		t.Fatalf("got epoch %s rev %d, want %s 20", s2.Epoch(), s2.Rev(), epoch)
	}
	again, _ := s2.Projects()
	if !reflect.DeepEqual(projects, again) {
		t.Fatal("projects differ after reopen")
	}
	if !reflect.DeepEqual(before, s2.Summary(SummaryFilter{})) {
		t.Fatal("summary differs after reopen")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, _ := bolt.Open(path, 0o600, nil)
	_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(99)) })
	db.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("opened a file of a newer schema")
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock.db")
	openTest(t, path)
	start := time.Now()
	_, err := Open(path, Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestConcurrentEditorsGetContiguousRevisions(t *testing.T) {
	s := openTest(t, "")
	for i := 0; i < 8; i++ {
		mustCreate(t, s, sample(fmt.Sprintf("P%d", i), StagePreparing))
	}
	var mu sync.Mutex
	var published []uint64
	s.SetCommitHook(func(ev []Event) {
		mu.Lock()
		defer mu.Unlock()
		for i, e := range ev {
			published = append(published, e.Change.Rev)
			last := i == len(ev)-1
			if last != (e.Summary != nil) || (last && e.Summary.Rev != e.Change.Rev) {
				t.Errorf("event %d of %d (rev %d): summary %v", i+1, len(ev), e.Change.Rev, e.Summary)
			}
		}
	})
	var wg sync.WaitGroup
	var acked sync.Map
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			id := fmt.Sprintf("P%d", w%8)
			for i := 0; i < 20; i++ {
				p, _ := s.Project(id)
				r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: p.Version, By: "w",
					Patch: &Patch{Note: ptr(fmt.Sprintf("w%d-%d", w, i))}})
				if err == nil {
					acked.Store(r.Change.Rev, r.Project.Note)
				}
			}
		}(w)
	}
	wg.Wait()
	for i, r := range published {
		if r != uint64(9+i) {
			t.Fatalf("published revision %d at position %d, want %d", r, i, 9+i)
		}
	}
	changes, _ := s.Changes(8, 10000)
	if len(changes) != len(published) {
		t.Fatalf("log holds %d changes, hook saw %d", len(changes), len(published))
	}
	acked.Range(func(k, v any) bool {
		c := changes[k.(uint64)-9]
		if c.Fields["note"].To != v {
			t.Errorf("rev %v: log says %v, caller was told %v", k, c.Fields["note"].To, v)
		}
		return true
	})
}

func TestSummaryIncrementalEqualsRecomputed(t *testing.T) {
	s := openTest(t, "")
	rng := rand.New(rand.NewSource(1))
	sectors := []string{"数字经济", "汽车电子", "影视文旅"}
	for i := 0; i < 60; i++ {
		p := sample(fmt.Sprintf("P%02d", i), StagePreparing)
		p.Category = Categories[rng.Intn(3)]
		p.Stage = StagesOf(p.Category)[rng.Intn(len(StagesOf(p.Category)))] // the domain rules
		if p.Stage.Completed() {
			p.Progress = 100
		}
		p.Sector = sectors[rng.Intn(3)]
		p.InvestmentYuan = int64(rng.Intn(1000)) * 1_000_000
		mustCreate(t, s, p)
	}
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("P%02d", rng.Intn(60))
		p, err := s.Project(id)
		if err != nil {
			continue
		}
		if rng.Intn(20) == 0 {
			_, _ = s.Apply(Edit{Kind: ChangeDelete, ProjectID: id, IfMatch: p.Version})
			continue
		}
		// Stage moves dated within 2022 or today (2026 and on): the figures count by date.
		var eff *Date
		if rng.Intn(2) == 0 {
			eff = ptr(Date(fmt.Sprintf("2022-%02d-01", 1+rng.Intn(12))))
		}
		stages := StagesOf(p.Category)
		_, _ = s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: p.Version, Patch: &Patch{
			Stage: ptr(stages[rng.Intn(len(stages))]), Sector: ptr(sectors[rng.Intn(3)]), EffectiveDate: eff,
			InvestmentCompletedYuan: ptr(int64(rng.Intn(50)) * 1_000_000)}})
	}
	fresh := newAggregate()
	projects, rev := s.Projects()
	for i := range projects {
		fresh.add(&projects[i], 1)
	}
	now := time.Now()
	// The live summary is the current (newest) year's.
	if got, want := s.Summary(SummaryFilter{}), fresh.summary(rev, SummaryFilter{Year: 2022}, now); !reflect.DeepEqual(got, want) {
		t.Fatalf("the live summary differs from a recount:\n got %+v\nwant %+v", got, want)
	}
	for _, f := range []SummaryFilter{{}, {Year: 2022}, {Category: CategoryPlanned}, {Department: "经济发展局"}, {Sector: "汽车电子"}} {
		got, want := s.agg.summary(rev, f, now), fresh.summary(rev, f, now)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("filter %+v: incremental summary differs from a recount", f)
		}
	}
}

func TestElapsedShare(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		year int
		want float64
	}{{2022, 1}, {2026, 11.0 / 12}, {2027, 0}} {
		if got := ElapsedShare(tt.year, now); got != tt.want {
			t.Errorf("ElapsedShare(%d): got %v, want %v", tt.year, got, tt.want)
		}
	}
}

func TestApplyAtomicAllOrNothing(t *testing.T) {
	s := openTest(t, "")
	mustCreate(t, s, sample("A", StagePreparing))
	bad := sample("C", StagePreparing)
	bad.Progress = 300
	_, err := s.ApplyAtomic([]Edit{
		{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, Patch: &Patch{Progress: ptr(5)}},
		{Kind: ChangeCreate, New: sample("B", StagePreparing)},
		{Kind: ChangeCreate, New: bad},
	})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "progress" {
		t.Fatalf("got %v, want the progress error", err)
	}
	if s.Rev() != 1 || s.Len() != 1 {
		t.Fatalf("got rev %d and %d projects after a refused group, want 1 and 1", s.Rev(), s.Len())
	}
	if p, _ := s.Project("A"); p.Progress != 0 || p.Version != 1 {
		t.Fatalf("A changed: %+v", p)
	}
	res, err := s.ApplyAtomic([]Edit{
		{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 1, Patch: &Patch{Progress: ptr(5)}},
		{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 2, Patch: &Patch{Progress: ptr(6)}},
		{Kind: ChangeCreate, New: sample("B", StagePreparing)},
	})
	if err != nil || s.Rev() != 4 || res[1].Project.Progress != 6 {
		t.Fatalf("got %v, rev %d", err, s.Rev())
	}
}

// TestAcknowledgedMeansSynced: bbolt syncs every commit (NoSync and NoGrowSync are off, and
// the writer uses Update, not Batch), and no caller is answered before the commit holding
// its edit has returned from Update.
func TestAcknowledgedMeansSynced(t *testing.T) {
	s := openTest(t, "")
	if s.file.Load().NoSync || s.file.Load().NoGrowSync {
		t.Fatal("bbolt is set not to sync")
	}
	for i := 0; i < 8; i++ {
		mustCreate(t, s, sample(fmt.Sprintf("P%d", i), StagePreparing))
	}
	var durable, acked atomic.Int64
	s.SetCommitObserver(func(c CommitStats) {
		if c.Err == nil {
			durable.Add(int64(c.Edits))
		}
	})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			for v := uint64(1); v <= 50; v++ {
				if _, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: v, Patch: &Patch{Progress: ptr(int(v))}}); err != nil {
					t.Error(err)
					return
				}
				if a, d := acked.Add(1), durable.Load(); a > d {
					t.Errorf("%d edits acknowledged, only %d committed", a, d)
				}
			}
		}(fmt.Sprintf("P%d", w))
	}
	wg.Wait()
}

// The log entry is spliced by hand (appendAfter); it must be exactly what encoding/json would write for
// the same change with the project's JSON as the "after" field.
func TestEncodeLogEntryMatchesEncodingJSON(t *testing.T) {
	p := Project{ID: "p-1", Name: `引号 "<tag>" & \ 反斜杠`, Category: CategoryPlanned, Year: 2022,
		Stage: StageUnderConstruction, PlannedStart: "2022-03-01", Note: "\u2028line"}
	pj, err := encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	c := Change{Rev: 7, ProjectID: "p-1", ProjectName: p.Name, At: time.Date(2022, 5, 1, 8, 0, 0, 0, time.UTC),
		By: "staff", Kind: ChangeUpdate, Comment: "<b>",
		Fields: map[string]FieldChange{"plannedStart": {From: Date(""), To: Date("2022-03-01")}, "progress": {From: 1, To: 2}}}
	for _, after := range [][]byte{pj, nil} {
		for _, prev := range []uint64{0, 5} {
			cj, err := encode(c)
			if err != nil {
				t.Fatal(err)
			}
			got := appendAfter(cj, after, prev)
			raw := json.RawMessage("null")
			if after != nil {
				raw = after
			}
			want, err := json.Marshal(struct {
				Change
				After json.RawMessage `json:"after"`
				Prev  uint64          `json:"prev,omitempty"`
			}{c, raw, prev})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("appendAfter:\n got %s\nwant %s", got, want)
			}
			var back logEntry
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if (after == nil) != (back.After == nil) || back.Rev != 7 || back.Prev != prev {
				t.Fatalf("decoded %+v", back)
			}
		}
	}
	// A date is written as encoding/json would write its string.
	for _, d := range []Date{"", "2022-12-31", Date("<x>")} {
		got, _ := d.MarshalJSON()
		want := []byte("null")
		if d != "" {
			want, _ = json.Marshal(string(d))
		}
		if string(got) != string(want) {
			t.Fatalf("Date(%q): got %s, want %s", d, got, want)
		}
	}
}
