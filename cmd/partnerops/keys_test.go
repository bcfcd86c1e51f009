package main

import (
	"context"
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
