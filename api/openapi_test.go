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
			for code, r := range op.Responses.Map() {
				if code >= "400" && (r.Value == nil || r.Value.Content.Get("application/json") == nil) {
					t.Errorf("%s %s: %s answers no typed error body", method, path, code)
				}
			}
		}
	}
}
