package main

// The drivers mailsync can read from: each registers its URL schemes.
import (
	_ "github.com/mailaccess/go-mailaccess/imap"               // imap://, imaps://
	_ "github.com/mailaccess/go-mailaccess/mailaccess/maildir" // maildir://
	_ "github.com/mailaccess/go-mailaccess/pop3"               // pop3://, pop3s://
)
