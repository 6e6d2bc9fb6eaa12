//go:build !linux

package etcdtest

import "syscall"

// childAttr has no parent-death signal outside Linux; Close, run as a test cleanup, kills
// the members.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
