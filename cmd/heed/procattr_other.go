//go:build !linux

package main

import "syscall"

// childProcAttr puts the private redis-server in its own process group.
// Outside Linux there is no Pdeathsig: a killed heed leaves its redis-server
// running, and the next start stops it through the pidfile.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
