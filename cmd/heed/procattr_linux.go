package main

import "syscall"

// childProcAttr puts the private redis-server in its own process group, so
// a Ctrl-C at the terminal reaches only heed, which then stops it in order,
// and has the kernel SIGKILL it if heed dies without stopping it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
