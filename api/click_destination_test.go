package api

import (
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/db"
)

// destinationLinks are cached links over the destinations a merchant can give:
// own parameters (sorted or not, repeated, escaped, one named like the click
// parameter or sub_id), a fragment, an empty query, another click parameter name.
func destinationLinks(t testing.TB) []*cachedLink {
	k := newClicker(DefaultClickConfig(), nil, nil)
	var links []*cachedLink
	for _, dest := range []string{
		"https://shop.example/landing",
		"https://shop.example/",
		"https://shop.example/?",
		"https://shop.example/p?zeta=1&alpha=2",
		"https://shop.example/p?x=1&x=2&a+b=c%26d",
		"https://shop.example/p?po_click_id=stale&sub_id=own#section-2",
		"https://shop.example/caf%C3%A9/p?q=%E2%82%AC#frag%20ment",
		"https://shop.example/p?bad=%zz&ok=1&semi;colon=1",
		"http://shop.example:8443/deep/path/?utm_source=own",
	} {
		for _, param := range []string{"po_click_id", "ref", "a"} {
			for _, sub := range []string{"", "spring-sale", "a&b=c d"} {
				l, ok := k.newCachedLink(db.LinksChangedSinceRow{ID: uuid.Must(uuid.NewV7()), Destination: dest, SubID: sub,
					AttributionModel: "last_click", CookieWindowDays: 30, ClickIDParam: param})
				if !ok {
					t.Fatalf("%q did not parse", dest)
				}
				links = append(links, l)
			}
		}
	}
	return links
}

// The destination built without net/url is net/url's, byte for byte, over the
// queries clicks carry (fixed cases and random ones from an alphabet of the
// characters that matter: separators, escapes, '+', ';', non-ASCII); past
// maxMergedPairs net/url builds it. A request without a query gets the same
// parameters (the click id last rather than in sorted place).
func TestAppendDestinationMatchesNetURL(t *testing.T) {
	links := destinationLinks(t)
	queries := []string{
		"utm_source=news&utm_medium=email",
		"fbclid=IwAR3xYz_abc-123",
		"gclid=Cj0KCQ&gclid=second",
		"b=1&a=2&b=3",
		"sub_id=theirs&po_click_id=forged&ref=forged",
		"zeta=request&alpha=request",
		"=empty-key&novalue&k=&&",
		"q=caf%C3%A9+au+lait&r=%e2%82%ac",
		"bad=%zz&ok=1",
		"semi;colon=1&ok=2",
		"a=1;b=2",
		"x=%",
		"k=v=w",
		"%41=escaped-key",
		strings.Repeat("p=1&", maxMergedPairs-4) + "last=1",
		strings.Repeat("p=1&", maxMergedPairs+5) + "last=1",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab=&;%+2F zé~._-x"
	for range 3000 {
		var b strings.Builder
		for range rng.IntN(24) {
			b.WriteString(string([]rune(alphabet)[rng.IntN(len([]rune(alphabet)))]))
		}
		queries = append(queries, b.String())
	}
	for _, l := range links {
		id := uuid.Must(uuid.NewV7())
		for _, q := range queries {
			if q == "" {
				continue
			}
			want := l.destinationByURL(q, id)
			if got := string(l.appendDestination([]byte("cookie"), q, id)); got != "cookie"+want {
				t.Fatalf("dest %q, sub %q, param %q, query %q:\n got %q\nwant %q", l.dest, l.subID, l.clickParam, q, got, "cookie"+want)
			}
		}
		plain, err := url.Parse(string(l.appendDestination(nil, "", id)))
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := url.Parse(l.destinationByURL("", id))
		if plain.Query().Encode() != ref.Query().Encode() || plain.Fragment != ref.Fragment || plain.Path != ref.Path || strings.Count(plain.String(), "?") != strings.Count(ref.String(), "?") {
			t.Errorf("dest %q without a query: %q, net/url %q", l.dest, plain, ref)
		}
	}
}

// Past maxMergedPairs parameters the fast path declines, appending nothing.
func TestAppendMergedDeclinesLongQueries(t *testing.T) {
	l := destinationLinks(t)[0]
	dst := []byte("keep")
	out, ok := l.appendMerged(dst, strings.Repeat("p=1&", maxMergedPairs), uuid.Must(uuid.NewV7()))
	if ok || string(out) != "keep" {
		t.Errorf("ok %v, %q", ok, out)
	}
	if _, ok := l.appendMerged(nil, strings.Repeat("p=1&", maxMergedPairs-3), uuid.Must(uuid.NewV7())); !ok {
		t.Error("declined a query within bounds")
	}
}

func TestAppendQueryEscapeMatchesNetURL(t *testing.T) {
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	for _, s := range []string{string(all), "", "a b+c&d=e/f?g#h~i", "café €"} {
		if got, want := string(appendQueryEscape(nil, s)), url.QueryEscape(s); got != want {
			t.Errorf("%q: %q, net/url %q", s, got, want)
		}
	}
	if !reflect.DeepEqual(appendQueryEscape([]byte("x"), "y z"), []byte("xy+z")) {
		t.Error("does not append")
	}
}
