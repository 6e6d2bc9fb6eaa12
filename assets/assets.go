// Package assets embeds the built web UI and the bundled data sets.
package assets

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed all:dist
var dist embed.FS

//go:embed seed/*.csv
var seeds embed.FS

// UI is the built web UI (frontend/ built into assets/dist). It holds only .gitkeep when the
// UI has not been built.
func UI() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the directory is embedded at compile time
	}
	return sub
}

// Seed opens a bundled data set by name, e.g. "jingyue-2022".
func Seed(name string) (fs.File, error) {
	f, err := seeds.Open("seed/" + name + ".csv")
	if err != nil {
		return nil, fmt.Errorf("no bundled data set %q (have: %s)", name, strings.Join(SeedNames(), ", "))
	}
	return f, nil
}

// SeedNames lists the bundled data sets.
func SeedNames() []string {
	entries, _ := fs.ReadDir(seeds, "seed")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".csv"))
	}
	sort.Strings(names)
	return names
}
