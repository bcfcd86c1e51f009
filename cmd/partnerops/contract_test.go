//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The API document is the contract: every exchange the integration tests make
// through do/doAt is checked against it. An answer in a shape the document does
// not describe (another type, base64 for JSON, a timestamp for a date, a status
// it does not list) fails the test that made it. A request the server accepted
// must be valid by the document too (refused ones are the bad-input tests').
var contract struct {
	once   sync.Once
	router routers.Router
	err    error
}

func contractRouter() (routers.Router, error) {
	contract.once.Do(func() {
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
		raw, err := os.ReadFile("../../api/openapi.yaml")
		if err != nil {
			contract.err = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			contract.err = err
			return
		}
		doc.Servers = nil // the test servers listen on their own ports
		contract.router, contract.err = legacy.NewRouter(doc)
	})
	return contract.router, contract.err
}

func checkContract(t *testing.T, req *http.Request, reqBody []byte, r response) {
	t.Helper()
	router, err := contractRouter()
	if err != nil {
		t.Fatalf("the API document: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
			t.Errorf("contract: %s %s is not in the API document (%v)", req.Method, req.URL.Path, err)
		}
		return
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if r.status >= 200 && r.status < 300 {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("contract: %s %s was accepted (%d) but the document refuses its request: %v", req.Method, req.URL.Path, r.status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
		Body: io.NopCloser(bytes.NewReader(r.raw)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("contract: %s %s answered %d in a shape the document does not describe: %v\n%s", req.Method, req.URL.Path, r.status, err, truncateForLog(r.raw))
	}
}

func truncateForLog(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// The contract check itself catches answers in the wrong shape: a date-time that
// is not one, JSON sent as base64, a field of another type, a status the document
// does not list, an accepted request the document would refuse.
func TestContractCatchesWrongShapes(t *testing.T) {
	f := newProgram(t)
	req, _ := http.NewRequest("GET", sys.api.URL+"/v1/programs/"+f.programID, nil)
	good := expect(t, do(t, call{method: "GET", path: "/v1/programs/" + f.programID, key: f.admin}), http.StatusOK)
	mutate := func(change func(map[string]any)) response {
		var body map[string]any
		_ = json.Unmarshal(good.raw, &body)
		change(body)
		raw, _ := json.Marshal(body)
		return response{status: http.StatusOK, header: good.header, raw: raw}
	}
	bad := map[string]response{
		"a timestamp that is not one": mutate(func(b map[string]any) { b["created_at"] = "yesterday" }),
		"a number as a string":        mutate(func(b map[string]any) { b["cookie_window_days"] = "30" }),
		"a list as base64":            mutate(func(b map[string]any) { b["allowed_domains"] = "W10=" }),
		"a required field missing":    mutate(func(b map[string]any) { delete(b, "id") }),
		"a status not documented":     {status: http.StatusTeapot, header: good.header, raw: []byte(`{}`)},
	}
	for what, r := range bad {
		inner := &testing.T{}
		func() {
			defer func() { _ = recover() }()
			checkContract(inner, req, nil, r)
		}()
		if !inner.Failed() {
			t.Errorf("the contract check let %s through", what)
		}
	}
	post, _ := http.NewRequest("POST", sys.api.URL+"/v1/programs", nil)
	post.Header.Set("Content-Type", "application/json")
	inner := &testing.T{}
	checkContract(inner, post, []byte(`{"name": 42}`), response{status: http.StatusCreated, header: good.header, raw: good.raw})
	if !inner.Failed() {
		t.Error("the contract check let an accepted request the document refuses through")
	}
}
