package api

import (
	_ "embed"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is the same document as JSON, converted once at start.
var openAPIJSON = func() []byte {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		panic("openapi.yaml: " + err.Error())
	}
	js, err := json.Marshal(doc)
	if err != nil {
		panic("openapi.yaml to JSON: " + err.Error())
	}
	return js
}()

func serveOpenAPIYAML(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openAPIYAML) }
func serveOpenAPIJSON(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIJSON) }
