// Package secrettest checks that no formatting of a value shows a secret:
// fmt's verbs and log/slog's text and JSON handlers, the ways a program
// prints a value without thinking of what it holds.
package secrettest

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Formats returns v formatted by every verb and handler checked, by name.
func Formats(v any) map[string]string {
	out := map[string]string{
		"%v":  fmt.Sprintf("%v", v),
		"%+v": fmt.Sprintf("%+v", v),
		"%#v": fmt.Sprintf("%#v", v),
		"%s":  fmt.Sprintf("%s", v),
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("value", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("value", "v", v)
	out["slog text"], out["slog json"] = text.String(), js.String()
	return out
}

// NoSecret fails t if any formatting of v contains secret.
func NoSecret(t testing.TB, v any, secret string) {
	t.Helper()
	for name, s := range Formats(v) {
		if strings.Contains(s, secret) {
			t.Errorf("%s of %T shows the secret: %s", name, v, s)
		}
	}
}
