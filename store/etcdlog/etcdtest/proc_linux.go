package etcdtest

import "syscall"

// childAttr makes the kernel SIGKILL a member if the process that started it dies (a test
// binary killed by its timeout, say), so that no member outlives its test.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
