package api

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The document is the contract: a real validator accepts it, and it is OpenAPI 3.1.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			switch {
			case op.OperationID == "" || ids[op.OperationID]:
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, op.OperationID)
			case len(op.Tags) != 1 || op.Summary == "":
				t.Errorf("%s %s: one tag and a summary", method, path)
			}
			ids[op.OperationID] = true
			if !hasExample(op) {
				t.Errorf("%s %s: no example of its answer", method, path)
			}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				if mt := rb.Value.Content.Get("application/json"); mt != nil && mt.Example == nil && len(mt.Examples) == 0 {
					t.Errorf("%s %s: no example of its request body", method, path)
				}
			}
			for code, r := range op.Responses.Map() {
				if code >= "400" && (r.Value == nil || r.Value.Content.Get("application/json") == nil) {
					t.Errorf("%s %s: %s answers no typed error body", method, path, code)
				}
			}
		}
	}
}

// hasExample: a success answer shows an example body, or headers with examples
// (a redirect), or has no body at all (204).
func hasExample(op *openapi3.Operation) bool {
	for code, r := range op.Responses.Map() {
		if code[0] != '2' && code[0] != '3' || r.Value == nil {
			continue
		}
		if code == "204" {
			return true
		}
		for _, mt := range r.Value.Content {
			if mt.Example != nil || len(mt.Examples) > 0 {
				return true
			}
		}
		for _, h := range r.Value.Headers {
			if h.Value != nil && h.Value.Example != nil {
				return true
			}
		}
	}
	return false
}
