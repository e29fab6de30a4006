//go:build race

package ssis

// raceEnabled reports a -race build: the 50 MB parse takes a minute under
// the race detector, so that test runs only without it.
const raceEnabled = true
