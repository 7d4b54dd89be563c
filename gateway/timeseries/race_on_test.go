//go:build race

package timeseries

// raceEnabled: the race detector makes the store ~5× slower, so long
// volume tests shrink under it; data races show at any size.
const raceEnabled = true
