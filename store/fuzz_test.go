package store

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadProjectsCSV: a data file either loads into valid projects or names its problem.
func FuzzReadProjectsCSV(f *testing.F) {
	header := strings.Join(seedColumns, ",") + "\n"
	f.Add([]byte(header + "A1,名称,planned,2022,数字经济,经济发展局,,under_construction,100,50,10,40,2022-03-01,2022-03-02,,2023-01-01,,false,\n"))
	f.Add([]byte(header + "C1,续建,planned,2022,a,b,,under_construction,100,50,10,40,2021-03-01,2021-03-02,2022-04-01,2023-01-01,,false,\n"))
	f.Add([]byte("\xef\xbb\xbf" + header))
	f.Add([]byte(header + "A1,\"多\n行\",attraction,2022,a,b,c,signed,1,0,0,0,,,,,,true,\"x,y\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		projects, err := ReadProjectsCSV(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, p := range projects {
			if err := p.Validate(); err != nil {
				t.Fatalf("loaded an invalid project %q: %v", p.ID, err)
			}
		}
	})
}
