//go:build !unix

package main

import (
	"syscall"

	"projectboard/scripts/internal/harness"
)

func childAttr() *syscall.SysProcAttr { return harness.ChildAttr() }
