//go:build !race

package ssis

const raceEnabled = false
