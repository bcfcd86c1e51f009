//go:build e2e

package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// recordHistory writes a workflow's history, as the Temporal CLI's `workflow show
// --output json` does, to RECORD_HISTORIES/<name>.json when that is set:
// `RECORD_HISTORIES=$PWD/workflows/testdata make test` (or one test) records the
// histories the replay test (workflows/replay_test.go) holds the code to.
func recordHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	dir := os.Getenv("RECORD_HISTORIES")
	if dir == "" {
		return
	}
	it := sys.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, ev)
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".json"), raw, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}
