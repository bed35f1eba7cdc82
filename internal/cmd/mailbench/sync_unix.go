//go:build unix

package main

import "syscall"

// syncDisks writes every dirty page out (sync(2)) before a timed job.
func syncDisks() { syscall.Sync() }
