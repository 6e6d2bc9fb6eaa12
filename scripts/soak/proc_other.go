//go:build !linux

package main

import "syscall"

// childAttr: outside Linux there is no parent-death signal; soak kills its server on exit.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// onTmpfs cannot tell outside Linux.
func onTmpfs(string) bool { return false }
