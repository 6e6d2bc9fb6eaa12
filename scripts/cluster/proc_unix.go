//go:build unix

package main

import (
	"syscall"

	"projectboard/scripts/internal/harness"
)

// childAttr puts a child in a process group of its own, so the Ctrl-C a terminal sends to
// its foreground group reaches the demo alone, which then stops the instances before the
// members; on Linux the kernel also kills the child when the demo dies.
func childAttr() *syscall.SysProcAttr {
	attr := harness.ChildAttr()
	attr.Setpgid = true
	return attr
}
