//go:build !linux

package main

import "syscall"

// childAttr has no parent-death signal outside Linux; crashtest kills its server on exit.
func childAttr() *syscall.SysProcAttr { return nil }

// onTmpfs cannot tell outside Linux; the temporary directory is assumed to be on disk.
func onTmpfs(string) bool { return false }
