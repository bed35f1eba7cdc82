package main

import (
	"github.com/mailaccess/go-mailaccess/imap" // registers imap:// and imaps://
	"github.com/mailaccess/go-mailaccess/mailaccess/mailsync"
	_ "github.com/mailaccess/go-mailaccess/pop3" // registers pop3:// and pop3s://
)

// The drivers and the sync engine measured by the read-, sync-, list- and
// fetch jobs. Without them (drivers.go alone) those jobs are reported as
// skipped.
func init() { newSync, makeIMAPID = mailsync.New, imap.MakeID }
