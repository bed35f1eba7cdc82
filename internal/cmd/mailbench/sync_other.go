//go:build !unix

package main

// syncDisks has no portable equivalent; the benchmark runs on Linux (it
// needs Dovecot), so elsewhere it only has to build.
func syncDisks() {}
