//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/domain"
)

// newBrowser starts Debian's chromium headless (the Makefile installs it), with
// every *.shop.test host resolving to this machine. A missing browser fails the
// test: it is part of make test, never skipped.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Fatal("browser tests need Chromium: sudo apt-get install chromium (make test installs it where it can)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP *.shop.test 127.0.0.1"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// browse runs one browser action and answers its value.
func browse[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wait polls a JavaScript condition until it holds (10 s at most).
func wait(cond string) chromedp.Action[chromedp.Void] {
	p := chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(10*time.Second))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := p(ctx, t)
		return chromedp.Void{}, err
	}
}

// docBlock returns the first ```lang block of a section of a document in docs/.
func docBlock(t *testing.T, doc, section, lang string) string {
	t.Helper()
	raw, err := os.ReadFile("../../docs/" + doc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n"+section+"\n")
	if i < 0 {
		t.Fatalf("docs/%s has no %q", doc, section)
	}
	s = s[i:]
	if j := strings.Index(s[1:], "\n## "); j >= 0 {
		s = s[:j+1]
	}
	m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)\n```").FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("docs/%s's %q has no %s block", doc, section, lang)
	}
	return m[1]
}

// The merchant integration of docs/tracking.md, verbatim, in a real browser: a click on the
// program's tracking domain lands on the shop (another host) with the click id;
// the snippet keeps it in a first-party cookie and fills the checkout form; the
// shop's backend posts the sale with it, signed, and it is attributed.
func TestMerchantSnippetInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	f := affiliateProgram(t)
	secret := expect(t, do(t, call{method: "POST", path: "/v1/programs/" + f.programID + "/signing-secrets", key: f.admin}), http.StatusCreated).str("secret")
	trackerPort := strings.TrimPrefix(sys.api.URL, "http://127.0.0.1:")
	trackingHost := "go-" + strings.ToLower(uuid.NewString()[:8]) + ".shop.test"
	expect(t, do(t, call{method: "PUT", path: "/v1/programs/" + f.programID + "/affiliate", key: f.admin,
		body: map[string]any{"allowed_domains": []string{"shop.test"}, "tracking_domain": trackingHost}}), http.StatusOK)

	// The fake shop: the documented snippet and form on its landing page; its
	// backend posts the order back with the click id from the form.
	snippet := docBlock(t, "tracking.md", "## Walkthrough: merchant integration", "html")
	snippet = strings.ReplaceAll(snippet, "https://partnerops.example.com", "http://"+trackingHost+":"+trackerPort)
	snippet = strings.ReplaceAll(snippet, "shop.example", "shop.test")
	type order struct {
		clickID, token string
		answer         response
	}
	orders := make(chan order, 1)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/landing":
			fmt.Fprintf(w, "<!doctype html><html><head><title>Shop</title></head><body><h1>Spring sale</h1>\n%s\n</body></html>", snippet)
		case "/checkout":
			_ = r.ParseForm()
			o := order{clickID: r.PostForm.Get("po_click_id")}
			if ck, err := r.Cookie("po_click"); err == nil {
				o.token = ck.Value // the tracking domain's cookie, first-party here
			}
			body, _ := json.Marshal(map[string]any{"program_id": f.programID, "external_id": "order-" + uuid.NewString(), "kind": "sale",
				"amount": "80.00", "currency": "EUR", "click_id": o.clickID, "occurred_at": time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339)})
			req, _ := http.NewRequest("POST", sys.api.URL+"/v1/conversions", bytes.NewReader(body))
			req.Header.Set(api.SignatureHeader, domain.SignPayload([]byte(secret), body, time.Now()))
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				o.answer = response{status: resp.StatusCode, raw: raw}
				_ = json.Unmarshal(raw, &o.answer.body)
			}
			orders <- o
			fmt.Fprint(w, `<!doctype html><html><body><p id="thanks">Thank you for your order</p></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer shop.Close()
	shopOrigin := "http://www.shop.test:" + strings.TrimPrefix(shop.URL, "http://127.0.0.1:")
	code := f.link(t, shopOrigin+"/landing?lang=en", "")

	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+trackingHost+":"+trackerPort+"/c/"+code),
		chromedp.WaitVisible(chromedp.CSS("h1")),
		wait(`window.partnerops && document.querySelector("input[name=po_click_id]").value !== ""`),
	)
	if err != nil {
		t.Fatalf("landing: %v", err)
	}
	landed := browse(t, ctx, chromedp.Location())
	cookies := browse(t, ctx, chromedp.Evaluate[string](`document.cookie`))
	fromAPI := browse(t, ctx, chromedp.Evaluate[string](`partnerops.clickId()`))
	field := browse(t, ctx, chromedp.Value(chromedp.CSS(`input[name=po_click_id]`)))
	u, _ := url.Parse(landed)
	clickID := u.Query().Get("po_click_id")
	id, perr := domain.ParseClickID(clickID)
	if u.Host != strings.TrimPrefix(shopOrigin, "http://") || perr != nil || u.Query().Get("lang") != "en" {
		t.Fatalf("landed on %s", landed)
	}
	// The snippet's cookie is the shop's own; the HttpOnly po_click is not readable by the page.
	if !strings.Contains(cookies, "po_click_id="+clickID) || strings.Contains(cookies, "po_click=") || fromAPI != clickID || field != clickID {
		t.Fatalf("cookies %q, clickId() %q, field %q; want %s", cookies, fromAPI, field, clickID)
	}

	// A later page of the shop (no click id in its address) still knows the click.
	if err := chromedp.Do(ctx, chromedp.Navigate(shopOrigin+"/landing"), chromedp.WaitVisible(chromedp.CSS("h1")), wait(`window.partnerops !== undefined`)); err != nil {
		t.Fatalf("a later page: %v", err)
	}
	if later := browse(t, ctx, chromedp.Evaluate[string](`partnerops.clickId()`)); later != clickID {
		t.Fatalf("on a later page the click id is %q", later)
	}

	// Checkout: the form carries the id to the shop's backend, which posts the sale.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("thanks"))); err != nil {
		t.Fatalf("checkout: %v", err)
	}
	var o order
	select {
	case o = <-orders:
	case <-time.After(10 * time.Second):
		t.Fatal("the shop's backend got no order")
	}
	tok, terr := domain.ParseClickToken(o.token, testTokenKey)
	if o.clickID != clickID || terr != nil || tok.ClickID != id {
		t.Fatalf("the shop's backend got click id %q and po_click %q (%v); want %s", o.clickID, o.token, terr, clickID)
	}
	if o.answer.status != http.StatusCreated || o.answer.str("attribution_method") != "click_id" || o.answer.str("partner_id") != f.partnerID ||
		o.answer.str("click_id") != id.String() {
		t.Fatalf("the postback: %d %s", o.answer.status, o.answer.raw)
	}
	var linkID string
	if err := sys.store.Pool.QueryRow(context.Background(), "SELECT link_id::text FROM conversions WHERE id = $1", o.answer.str("id")).Scan(&linkID); err != nil || linkID == "" {
		t.Fatalf("stored conversion: %q %v", linkID, err)
	}
}
