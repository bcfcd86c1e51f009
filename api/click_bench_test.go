package api

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
)

// discardWriter is a ResponseWriter that keeps nothing, its header map reused
// the way net/http gives each response a fresh one.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkClickHandler is the click handler's own cost (no network, no
// database: the queue is emptied as the writer would), beside the bare Gin 302
// that `make bench` compares it with, and for a click whose query is carried over. For where the click path's CPU goes per
// request; the headline figure is wrk's against the real server (make bench).
func BenchmarkClickHandler(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	uuid.EnableRandPool() // as api.TuneRuntime does in both binaries
	k := newClicker(ClickConfig{TokenKey: []byte("token-key-0123456789abcdef012345"), IPKey: []byte("ip-key-0123456789abcdef012345678"),
		QueueSize: 1 << 16, BatchSize: 2000, FlushInterval: time.Second}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l, ok := k.newCachedLink(db.LinksChangedSinceRow{ID: uuid.Must(uuid.NewV7()), Code: "benchlink01", ProgramID: uuid.Must(uuid.NewV7()),
		PartnerID: uuid.Must(uuid.NewV7()), Destination: "https://shop.example/landing", AttributionModel: "last_click", CookieWindowDays: 30, ClickIDParam: "po_click_id"})
	if !ok {
		b.Fatal("link did not parse")
	}
	k.links.put("benchlink01", l)

	click := gin.New()
	if err := click.SetTrustedProxies(nil); err != nil { // as the server does with no TRUSTED_PROXIES
		b.Fatal(err)
	}
	click.GET("/c/:code", k.Handle)
	bare := gin.New()
	cookie := "po_click=" + strings.Repeat("A", 99) + "; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
	bare.GET("/c/:code", func(c *gin.Context) {
		c.Writer.Header()["Set-Cookie"] = []string{cookie}
		c.Redirect(http.StatusFound, "https://shop.example/landing?po_click_id=AZqL3m9xR2e8Yq0JtW5k1A")
	})
	for _, tc := range []struct {
		name, query string
		h           http.Handler
	}{{"bare", "", bare}, {"click", "", click}, {"click_with_query", "?utm_source=news&utm_medium=email", click}} {
		b.Run(tc.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080/c/benchlink01"+tc.query, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
			w := &discardWriter{h: http.Header{}}
			var done []db.InsertClicksParams
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				clear(w.h)
				tc.h.ServeHTTP(w, req)
				if w.status != http.StatusFound {
					b.Fatalf("status %d", w.status)
				}
				if i%1024 == 1023 {
					done = k.queue.take(done)[:0]
				}
			}
		})
	}
}
