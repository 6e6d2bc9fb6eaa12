package assets_test

import (
	"path/filepath"
	"testing"

	"projectboard/assets"
	"projectboard/store"
)

// TestJingyue2022Figures checks that the bundled data yields the figures of the interview.
func TestJingyue2022Figures(t *testing.T) {
	f, err := assets.Seed("jingyue-2022")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	projects, err := store.ReadProjectsCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(filepath.Join(t.TempDir(), "seed.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Seed(projects, "system", "import"); err != nil {
		t.Fatal(err)
	}
	sum := s.Summary(store.SummaryFilter{Year: 2022})
	checks := []struct {
		name      string
		got, want int64
	}{
		{"planned projects", int64(sum.Planned.Count), 102},
		{"planned started", int64(sum.Planned.Started), 102},
		{"unplanned new starts", int64(sum.Unplanned.Count), 14},
		{"unplanned started", int64(sum.Unplanned.Started), 14},
		{"attraction projects", int64(sum.Attraction.Count), 81},
		{"attraction yuan", sum.Attraction.InvestmentYuan, 34_355_000_000},
		{"signed projects", int64(sum.Attraction.Signed.Count), 35},
		{"signed yuan", sum.Attraction.Signed.InvestmentYuan, 19_170_000_000},
		{"revision", int64(sum.Rev), 197},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	if sum.Planned.StartRate != 1 {
		t.Errorf("开复工率: got %v, want 1", sum.Planned.StartRate)
	}
	projects2, _ := s.Projects()
	for _, p := range projects2 {
		if p.Category == store.CategoryUnplanned && p.InvestmentYuan < 50_000_000 {
			t.Errorf("%s: unplanned new start of %d yuan, want ≥ 50,000,000", p.ID, p.InvestmentYuan)
		}
	}
	for _, name := range []string{"长春影视产业园", "大陆汽车电子二期扩能", "复星长春鹿鸣谷文旅蜂巢", "网易(长春)数字产业中心", "新城大街快速路"} {
		found := false
		for _, p := range projects2 {
			found = found || p.Name == name
		}
		if !found {
			t.Errorf("the interview's project %s is missing", name)
		}
	}
}
