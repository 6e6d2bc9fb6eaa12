//go:build !linux

package harness

import "syscall"

// ChildAttr has no parent-death signal outside Linux; the tools kill their server on exit.
func ChildAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// OnTmpfs cannot tell outside Linux; every directory is taken to be on disk.
func OnTmpfs(string) bool { return false }
