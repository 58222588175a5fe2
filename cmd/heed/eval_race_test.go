//go:build race

package main

// raceEnabled is set under -race, which slows numeric work tenfold.
const raceEnabled = true
