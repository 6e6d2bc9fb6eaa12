package etcdtest

import "syscall"

// adoptOrphans makes this process the child subreaper of its descendants: a member whose
// parent (a helper test process) dies becomes this process's child, so that reap can collect
// it, rather than init's, which in a container may never reap it.
func adoptOrphans() error {
	const prSetChildSubreaper = 36
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return e
	}
	return nil
}

// reap collects pid if it is an exited child of this process, without waiting.
func reap(pid int) {
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}
