//go:build race

package sheet

// raceEnabled: the race detector slows reading several times over, so the hostile files'
// time bound is not checked under it (their heap bound is).
const raceEnabled = true
