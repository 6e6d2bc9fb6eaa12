package harness

import "syscall"

// ChildAttr makes the kernel kill a child process (the server under test) if this process
// dies, so that no server outlives the tool that started it.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// OnTmpfs reports whether dir is on a tmpfs (memory), where a database never touches a
// disk.
func OnTmpfs(dir string) bool {
	const tmpfsMagic = 0x01021994
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == tmpfsMagic
}
