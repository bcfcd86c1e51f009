//go:build e2e

package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/partnerops/partnerops/domain"
)

// The operator's command prints a working key once, and refuses bad input.
func TestKeysCreateCommand(t *testing.T) {
	t.Setenv("DATABASE_URL", sys.dbURL)
	out := captureStdout(t, func() error { return run([]string{"keys", "create", "--role", "finance", "--label", "fin-ops"}) })
	key := strings.TrimSpace(out)
	if _, _, ok := domain.ParseAPIKey(key); !ok {
		t.Fatalf("printed %q", out)
	}
	expect(t, do(t, call{method: "GET", path: "/v1/partners", key: key}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/programs", key: key, body: map[string]any{}}), http.StatusForbidden)

	for _, args := range [][]string{
		{"keys", "create", "--role", "root"},
		{"keys", "create", "--role", "partner"},
		{"keys", "create", "--role", "manager", "--partner", "not-a-uuid"},
		{"keys", "list"},
	} {
		if err := run(args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	var n int
	_ = sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM api_keys WHERE label = 'fin-ops'").Scan(&n)
	if n != 1 {
		t.Fatalf("%d keys stored", n)
	}
}

func captureStdout(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	err := fn()
	os.Stdout = old
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// --help on every command prints its usage, exits 0 and does nothing: no
// migration, no listener, no key.
func TestHelpChangesNothing(t *testing.T) {
	t.Setenv("DATABASE_URL", sys.dbURL)
	t.Setenv("HTTP_ADDR", "127.0.0.1:1") // a serve that ran would fail here
	before := rowCount(t)
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}, {"worker", "-h"}, {"migrate", "--help"}, {"dev", "--help"},
		{"keys", "--help"}, {"keys", "create", "--help"}, {"keys", "create", "--role", "admin", "-h"},
	} {
		out := captureStdout(t, func() error { return run(args) })
		if !strings.Contains(out, "usage: partnerops") {
			t.Errorf("%v printed %q", args, out)
		}
	}
	if after := rowCount(t); after != before {
		t.Fatalf("--help wrote %d rows", after-before)
	}
	if out := captureStdout(t, func() error { return run([]string{"version"}) }); !strings.HasPrefix(out, "partnerops ") {
		t.Fatalf("version printed %q", out)
	}
	for _, args := range [][]string{{"bogus"}, {"serve", "extra"}, {"migrate", "--force"}} {
		var ue usageError
		if err := run(args); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error (exit 2)", args, err)
		}
	}
}
