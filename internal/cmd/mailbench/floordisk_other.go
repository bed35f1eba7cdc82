//go:build !linux

package main

import (
	"context"
	"errors"
)

// floorDisk needs O_TMPFILE, linkat(2) with AT_EMPTY_PATH and syncfs(2),
// the calls mailaccess/maildir makes a sync durable with on Linux.
func floorDisk(context.Context, string, [][]byte) (childResult, error) {
	return childResult{}, errors.New("floor-disk needs Linux (O_TMPFILE, linkat, syncfs)")
}

// floorDiskUnsupported says why floor-disk cannot run here.
const floorDiskUnsupported = "needs Linux (O_TMPFILE, linkat, syncfs)"
