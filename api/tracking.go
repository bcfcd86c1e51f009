package api

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"

	"github.com/gin-gonic/gin"
)

// snippet is the first-party tracking script a merchant adds to its pages.
//
//go:embed static/t.js
var snippet []byte

var snippetETag = func() string {
	sum := sha256.Sum256(snippet)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// serveSnippet answers GET /t.js: cacheable a day (revalidated by ETag), never
// calling anything itself.
func serveSnippet(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=86400")
	c.Header("ETag", snippetETag)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Access-Control-Allow-Origin", "*")
	if c.GetHeader("If-None-Match") == snippetETag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "text/javascript; charset=utf-8", snippet)
}
