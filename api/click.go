package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// ClickConfig tunes the click path.
type ClickConfig struct {
	TokenKey      []byte        // signs the attribution cookie's click token
	IPKey         []byte        // keys the hash that stands in for client addresses
	QueueSize     int           // clicks waiting to be written; beyond it they are dropped and counted
	BatchSize     int           // clicks per COPY
	FlushInterval time.Duration // longest a click waits in the queue
	Refresh       time.Duration // how often the link cache reads changes
}

func DefaultClickConfig() ClickConfig {
	// Few large COPYs: each statement costs PostgreSQL a few milliseconds of its
	// own (at 35,000 clicks/s, batches of ~1,700 took 6 µs of its CPU a click,
	// batches of ~9,000 3.3 µs). A postback by click id does not wait for the
	// interval: see AwaitStored.
	return ClickConfig{QueueSize: 65536, BatchSize: 10000, FlushInterval: 250 * time.Millisecond, Refresh: 2 * time.Second}
}

const clickCookie = "po_click"

// cachedLink is what the handler needs of a link, resolved once. What its
// program decides is shared by the program's links (a million links hold one
// copy per program, not one each).
type cachedLink struct {
	id, partnerID, programID uuid.UUID
	*linkProgram
	dest                   string // the link's destination as stored
	subID                  string
	destPrefix, destSuffix string // the redirect for requests without a query: prefix + click id + suffix
	disabled               bool
}

// linkProgram is the program's tracking settings as the click handler uses them.
type linkProgram struct {
	clickParam   string // the program's click id parameter
	trackingHost string // the program's custom tracking domain, if any
	cookieDomain string // its registrable domain: the cookie's Domain there
	firstClick   bool
	window       time.Duration
	maxAge       string // the cookie's Max-Age, formatted once
}

// interned answers the one shared copy of equal program settings.
type interned struct {
	mu sync.Mutex
	m  map[linkProgram]*linkProgram
}

func (in *interned) get(p linkProgram) *linkProgram {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.m == nil {
		in.m = map[linkProgram]*linkProgram{}
	}
	if q, ok := in.m[p]; ok {
		return q
	}
	in.m[p] = &p
	return &p
}

// Clicker serves GET /c/{code}: it never waits on PostgreSQL. Links come from an
// in-process cache refreshed from the database; clicks go to a queue that one
// writer drains in batches with COPY, under its own context (a client hanging up
// must not cancel a write). Close flushes every accepted click.
type Clicker struct {
	cfg       ClickConfig
	store     *db.Store
	logger    *slog.Logger
	links     linkCache
	misses    missCache
	lookups   chan struct{} // bounds concurrent lookups of codes the cache misses
	looked    atomic.Int64  // lookups made
	programs  atomic.Pointer[programTracking]
	since     time.Time
	sinceID   uuid.UUID
	queue     clickQueue
	dedupe    *dedupeSet
	bots      botCache
	settings  interned
	stop      chan struct{}
	done      sync.WaitGroup
	tokenMACs sync.Pool // keyed HMAC states, reused: hmac.New per click is measurable
	ipMACs    sync.Pool
	closeOnce sync.Once
	m         clickMetrics
	syncs     chan chan struct{} // postbacks waiting for their click to be written (AwaitStored)
	// storedThrough is when (unix ns) the writer last took the queue and has
	// written all it took since: every click answered a second before it is in
	// PostgreSQL (or counted lost).
	storedThrough atomic.Int64
}

// programTracking is what the handler needs per program, swapped whole on refresh.
type programTracking struct {
	fallbacks map[uuid.UUID]string // where a disabled link of the program goes
	hosts     map[string]uuid.UUID // custom tracking domain → its program
}

type clickMetrics struct {
	accepted, dropped, unknown, stored, lost prometheus.Counter
	flagged                                  *prometheus.CounterVec
	bots, malformed, duplicates              prometheus.Counter // flagged's children, resolved once
	flush                                    prometheus.Histogram
}

func NewClicker(ctx context.Context, cfg ClickConfig, store *db.Store, logger *slog.Logger, reg prometheus.Registerer) (*Clicker, error) {
	k := newClicker(cfg, store, logger)
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "partnerops_click_queue_depth", Help: "Clicks waiting to be written."}, func() float64 { return float64(k.queue.len()) })
	for _, c := range []prometheus.Collector{k.m.accepted, k.m.dropped, k.m.unknown, k.m.stored, k.m.lost, k.m.flagged, k.m.flush, depth} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	if err := store.EnsureClickPartitions(ctx, 3); err != nil {
		return nil, err
	}
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	k.done.Add(2)
	go k.refresher()
	go k.writer()
	return k, nil
}

// newClicker is a Clicker with its cache, queue and metrics, before it reads
// links or writes clicks (NewClicker starts both).
func newClicker(cfg ClickConfig, store *db.Store, logger *slog.Logger) *Clicker {
	k := &Clicker{cfg: cfg, store: store, logger: logger, dedupe: newDedupeSet(), stop: make(chan struct{}), lookups: make(chan struct{}, 4),
		syncs: make(chan chan struct{})}
	k.queue.init(cfg.QueueSize, cfg.BatchSize)
	k.links.init()
	k.misses.init()
	k.programs.Store(&programTracking{})
	k.tokenMACs.New = func() any { return hmac.New(sha256.New, cfg.TokenKey) }
	k.ipMACs.New = func() any { return hmac.New(sha256.New, cfg.IPKey) }
	k.m = clickMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "partnerops_clicks_accepted_total", Help: "Clicks answered with a redirect and queued."}),
		dropped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "partnerops_clicks_dropped_total", Help: "Clicks answered but not queued because the queue was full."}),
		unknown:  prometheus.NewCounter(prometheus.CounterOpts{Name: "partnerops_clicks_unknown_total", Help: "Requests for unknown or disabled codes."}),
		stored:   prometheus.NewCounter(prometheus.CounterOpts{Name: "partnerops_clicks_stored_total", Help: "Clicks written to PostgreSQL."}),
		lost:     prometheus.NewCounter(prometheus.CounterOpts{Name: "partnerops_clicks_lost_total", Help: "Clicks whose write failed after retries."}),
		flagged:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "partnerops_clicks_flagged_total", Help: "Clicks flagged inline, by reason."}, []string{"reason"}),
		flush:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "partnerops_click_flush_seconds", Help: "Time to COPY one batch of clicks.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	k.m.bots, k.m.malformed, k.m.duplicates = k.m.flagged.WithLabelValues("bot"), k.m.flagged.WithLabelValues("malformed"), k.m.flagged.WithLabelValues("duplicate")
	return k
}

// Handle answers a click: 302 to the link's destination with the request's query
// and the sub-id carried over and the click id appended under the program's
// parameter, the signed attribution cookie (for the merchant's registrable domain
// when the click came in on the program's tracking domain), and the click queued.
func (k *Clicker) Handle(c *gin.Context) {
	code := c.Param("code")
	l := k.links.get(code)
	if l == nil {
		l = k.lookup(c.Request.Context(), code)
	}
	req := c.Request
	host := req.Host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	pt := k.programs.Load()
	if l != nil && l.trackingHost != host && len(pt.hosts) > 0 {
		if p, ok := pt.hosts[strings.ToLower(host)]; ok && p != l.programID {
			l = nil // another program's tracking domain serves only its own links
		}
	}
	if l == nil || l.disabled {
		k.m.unknown.Inc()
		if l != nil {
			if fb, ok := pt.fallbacks[l.programID]; ok {
				c.Redirect(http.StatusFound, fb)
				return
			}
		}
		c.AbortWithStatusJSON(http.StatusNotFound, ErrorBody{Error: ErrorDetail{Code: "not_found", Message: "unknown link"}})
		return
	}
	now := time.Now()
	ua := req.UserAgent()
	ipHash := k.ipHash(clientIP(c))
	bot := k.bots.isBot(ua)
	malformed := domain.MalformedClick(ua, len(req.URL.RawQuery))
	duplicate := k.dedupe.seen(dedupeKey(ipHash, ua, l.id), now)
	clickID := uuid.Must(uuid.NewV7())

	// The cookie and the Location are built in one buffer and become one string
	// (and the two header values share one array): three allocations fewer per click.
	var buf [512]byte
	cookieLen := 0

	// Under first-click attribution a valid cookie from the same program stands.
	keep := false
	if l.firstClick {
		if ck, err := req.Cookie(clickCookie); err == nil {
			if t, err := domain.ParseClickToken(ck.Value, k.cfg.TokenKey); err == nil {
				keep = domain.KeepFirstClick("first_click", &t, l.programID, now, l.window)
			}
		}
	}
	if !keep {
		tok := domain.ClickToken{ClickID: clickID, LinkID: l.id, PartnerID: l.partnerID, ProgramID: l.programID, ClickedAt: now}
		// Written directly: the token is base64url and needs none of SetCookie's checks.
		cookie := append(buf[:0], clickCookie+"="...)
		mac := k.tokenMACs.Get().(hash.Hash)
		cookie = tok.AppendSigned(cookie, mac)
		k.tokenMACs.Put(mac)
		cookie = append(append(append(cookie, "; Path=/; Max-Age="...), l.maxAge...), "; HttpOnly; SameSite=Lax"...)
		if l.trackingHost != "" && host == l.trackingHost {
			cookie = append(append(cookie, "; Domain="...), l.cookieDomain...) // first-party on the merchant's site
		}
		if req.TLS != nil || forwardedHTTPS(req.Header) {
			cookie = append(cookie, "; Secure"...)
		}
		cookieLen = len(cookie)
	}

	if k.queue.add(db.InsertClicksParams{ID: clickID, LinkID: l.id, PartnerID: l.partnerID, ProgramID: l.programID, ClickedAt: now,
		IPHash: ipHash, UserAgent: truncate(ua, 512), Referer: truncate(req.Referer(), 1024), SubID: l.subID, Bot: bot, Duplicate: duplicate, Malformed: malformed}) {
		k.m.accepted.Inc()
	} else { // never block the redirect: the loss is counted, and the cookie still attributes
		k.m.dropped.Inc()
	}
	switch {
	case bot:
		k.m.bots.Inc()
	case malformed:
		k.m.malformed.Inc()
	case duplicate:
		k.m.duplicates.Inc()
	}
	out := l.appendDestination(buf[:cookieLen], req.URL.RawQuery, clickID)
	both := string(out)
	if cookieLen == 0 {
		redirect(c, both, nil)
		return
	}
	values := make([]string, 2)
	values[0], values[1] = both[:cookieLen], both[cookieLen:]
	redirect(c, values[1], values)
}

// forwardedHTTPS says whether the proxy in front took the request over HTTPS
// (the header's canonical key read directly: Get canonicalizes it on every call).
func forwardedHTTPS(h http.Header) bool {
	v := h["X-Forwarded-Proto"]
	return len(v) > 0 && v[0] == "https"
}

// clientIP is gin's ClientIP in canonical form (canonicalIP), without gin's cost
// in the common case: a request with neither X-Forwarded-For nor X-Real-IP (the
// engine's RemoteIPHeaders; no trusted platform is configured) has the client
// address gin would answer in RemoteAddr, and a dotted IPv4 there is already
// canonical (netip accepts no other spelling of one). Anything else is gin's,
// canonicalized: gin answers a forwarded address as the header spells it.
func clientIP(c *gin.Context) string {
	req := c.Request
	if len(req.Header["X-Forwarded-For"]) == 0 && len(req.Header["X-Real-Ip"]) == 0 {
		if i := strings.LastIndexByte(req.RemoteAddr, ':'); i > 0 {
			host := req.RemoteAddr[:i]
			if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
				return host
			}
		}
	}
	return canonicalIP(c.ClientIP())
}

// canonicalIP is the one spelling of an address that is hashed (the click's,
// the partner's, a conversion's customer_ip): Go's, an IPv4-mapped address as
// IPv4 and IPv6 in lower case, shortest. What does not parse is left as it is.
func canonicalIP(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return s
}

// redirect answers 302 with the Location alone, and the cookie when there is
// one: withCookie, when not nil, is {cookie, to} (one array for both headers).
// http.Redirect (what c.Redirect calls) re-parses the URL, escapes it and
// writes an HTML body with fmt: 40 % of this handler's CPU under load. The
// destination was built from a parsed URL and an encoded query, so it is plain
// printable ASCII; anything else (never seen) goes through http.Redirect's
// escaping. No body: RFC 9110 asks for none, and a browser following the
// redirect never shows it.
func redirect(c *gin.Context, to string, withCookie []string) {
	h := c.Writer.Header()
	if withCookie != nil {
		h["Set-Cookie"] = withCookie[:1:1]
	}
	for i := 0; i < len(to); i++ {
		if to[i] <= ' ' || to[i] >= 0x7f {
			c.Redirect(http.StatusFound, to)
			return
		}
	}
	if withCookie != nil {
		h["Location"] = withCookie[1:2:2]
	} else {
		h["Location"] = []string{to}
	}
	c.Writer.WriteHeader(http.StatusFound)
	c.Writer.WriteHeaderNow()
}

// appendDestination appends the redirect's destination to dst: the request's
// query parameters carried over (the link's own win), the sub-id, and the click
// id under the program's parameter (a click id arriving in the request is
// replaced, never trusted). Without a query, the prefix and suffix made when
// the link was cached around the click id; with one, the same answer as
// destinationByURL (url.Values merged and encoded, sorted by key) built
// without a map or a parse of the link: social and ad clicks (fbclid, gclid,
// utm_*) all carry a query.
func (l *cachedLink) appendDestination(dst []byte, rawQuery string, clickID uuid.UUID) []byte {
	if rawQuery == "" {
		dst = base64.RawURLEncoding.AppendEncode(append(dst, l.destPrefix...), clickID[:]) // domain.ShortClickID
		return append(dst, l.destSuffix...)
	}
	if out, ok := l.appendMerged(dst, rawQuery, clickID); ok {
		return out
	}
	return append(dst, l.destinationByURL(rawQuery, clickID)...)
}

// destinationByURL is the destination as net/url builds it: the definition
// appendMerged must match, and its fallback for queries beyond its bounds.
func (l *cachedLink) destinationByURL(rawQuery string, clickID uuid.UUID) string {
	u, err := url.Parse(l.dest)
	if err != nil { // parsed when cached: never
		return l.dest
	}
	q, _ := url.ParseQuery(rawQuery)
	merged := u.Query()
	for key, vs := range q {
		if _, own := merged[key]; !own {
			merged[key] = vs
		}
	}
	if l.subID != "" {
		merged.Set("sub_id", l.subID)
	}
	merged.Set(l.clickParam, domain.ShortClickID(clickID))
	u.RawQuery, u.ForceQuery = merged.Encode(), false
	return u.String()
}

// queryPair is one parameter of the merged query: the link's own, already
// encoded (from destPrefix), the click id, or a request's, unescaped, to encode.
type queryPair struct {
	key     string // unescaped: the order url.Values.Encode sorts by
	value   string // a request's value, unescaped
	encoded string // the link's own "key=value", as encoded when cached; empty for the others
}

const maxMergedPairs = 32

// appendMerged builds the query url.Values would, from what destPrefix already
// holds (the link's base URL, then its own parameters encoded and sorted, sub_id
// among them, then the click parameter's name) and the request's parameters
// parsed as url.ParseQuery does (pairs with a ';' or a bad escape dropped). The
// link's own parameters and the click id win over the request's. False, and
// nothing appended, beyond maxMergedPairs parameters.
func (l *cachedLink) appendMerged(dst []byte, rawQuery string, clickID uuid.UUID) ([]byte, bool) {
	var arr [maxMergedPairs]queryPair
	pairs := arr[:0]
	base, rest, _ := strings.Cut(l.destPrefix, "?")
	clickKey := rest // "own&own&param=" or "param="
	if i := strings.LastIndexByte(rest, '&'); i >= 0 {
		clickKey = rest[i+1:]
		for own := range strings.SplitSeq(rest[:i], "&") {
			k, _, _ := strings.Cut(own, "=")
			k, _ = url.QueryUnescape(k) // encoded by url.Values.Encode: unescapes
			if len(pairs) == maxMergedPairs {
				return dst, false
			}
			pairs = append(pairs, queryPair{key: k, encoded: own})
		}
	}
	owned := len(pairs)
	for query := rawQuery; query != ""; {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		if kv == "" || strings.IndexByte(kv, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := url.QueryUnescape(k)
		if err != nil || k == l.clickParam {
			continue
		}
		if v, err = url.QueryUnescape(v); err != nil {
			continue
		}
		if ownKey(pairs[:owned], k) {
			continue
		}
		if len(pairs) == maxMergedPairs-1 {
			return dst, false
		}
		pairs = append(pairs, queryPair{key: k, value: v})
	}
	pairs = append(pairs, queryPair{key: l.clickParam}) // no request's pair has this key: encoded below
	// Insertion sort: stable (a key's values keep their order), few pairs.
	for i := 1; i < len(pairs); i++ {
		for j := i; j > 0 && pairs[j].key < pairs[j-1].key; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
	dst = append(append(dst, base...), '?')
	for i := range pairs {
		p := &pairs[i]
		if i > 0 {
			dst = append(dst, '&')
		}
		switch {
		case p.encoded != "":
			dst = append(dst, p.encoded...)
		case p.key == l.clickParam: // base64url needs no escaping
			dst = base64.RawURLEncoding.AppendEncode(append(dst, clickKey...), clickID[:])
		default:
			dst = appendQueryEscape(append(appendQueryEscape(dst, p.key), '='), p.value)
		}
	}
	return append(dst, l.destSuffix...), true
}

func ownKey(own []queryPair, k string) bool {
	for i := range own {
		if own[i].key == k {
			return true
		}
	}
	return false
}

// appendQueryEscape appends s as url.QueryEscape escapes it: unreserved bytes
// as they are, a space as '+', everything else %XX.
func appendQueryEscape(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

// newCachedLink resolves a link row once; false when its destination does not parse.
func (k *Clicker) newCachedLink(r db.LinksChangedSinceRow) (*cachedLink, bool) {
	dest, err := url.Parse(r.Destination)
	if err != nil {
		return nil, false
	}
	p := linkProgram{clickParam: r.ClickIDParam, firstClick: r.AttributionModel == "first_click",
		window: time.Duration(r.CookieWindowDays) * 24 * time.Hour, maxAge: strconv.Itoa(int(r.CookieWindowDays) * 24 * 3600)}
	if r.TrackingDomain != nil {
		if host, reg, ok := domain.TrackingDomain(*r.TrackingDomain); ok {
			p.trackingHost, p.cookieDomain = host, reg
		}
	}
	l := &cachedLink{id: r.ID, partnerID: r.PartnerID, programID: r.ProgramID, linkProgram: k.settings.get(p), dest: r.Destination,
		subID: r.SubID, disabled: r.DisabledAt != nil}
	with := *dest
	q := with.Query()
	q.Del(l.clickParam)
	if r.SubID != "" {
		q.Set("sub_id", r.SubID)
	}
	with.RawQuery, with.ForceQuery = q.Encode(), false // "https://shop.example/?" too gets one '?'
	if with.Fragment != "" {
		l.destSuffix = "#" + with.EscapedFragment()
		with.Fragment, with.RawFragment = "", ""
	}
	sep := "?"
	if with.RawQuery != "" {
		sep = "&"
	}
	l.destPrefix = with.String() + sep + url.QueryEscape(l.clickParam) + "="
	return l, true
}

// lookup reads a code the cache does not hold (a link created since the last
// refresh) from PostgreSQL, once: found, it joins the cache; absent, it is
// remembered as missing until the next refresh. At most a few lookups run at once;
// beyond them a miss answers 404 rather than queueing on the database.
func (k *Clicker) lookup(ctx context.Context, code string) *cachedLink {
	if len(code) == 0 || len(code) > 64 || !cleanText(code) || k.misses.has(code) {
		return nil
	}
	select {
	case k.lookups <- struct{}{}:
		defer func() { <-k.lookups }()
	default:
		return nil
	}
	if l := k.links.get(code); l != nil { // another lookup got it meanwhile
		return l
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	k.looked.Add(1)
	r, err := k.store.LinkByCode(ctx, code)
	if errors.Is(err, pgx.ErrNoRows) {
		k.misses.add(code)
		return nil
	}
	if err != nil {
		k.logger.Warn("link lookup failed", "error", err)
		return nil
	}
	l, ok := k.newCachedLink(db.LinksChangedSinceRow(r))
	if !ok {
		k.misses.add(code)
		return nil
	}
	k.links.put(code, l)
	return l
}

func (k *Clicker) ipHash(ip string) []byte {
	m := k.ipMACs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(ip))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	k.ipMACs.Put(m)
	return append(make([]byte, 0, 16), sum[:16]...)
}

// botCache remembers the bot verdict per user agent: a few thousand agents make
// most traffic, and a map lookup costs a tenth of the marker scan. Bounded: it
// starts over past 20,000 agents.
type botCache struct {
	mu sync.RWMutex
	m  map[string]bool
}

func (b *botCache) isBot(ua string) bool {
	b.mu.RLock()
	v, ok := b.m[ua]
	b.mu.RUnlock()
	if ok {
		return v
	}
	v = domain.IsBot(ua)
	if len(ua) > 512 {
		return v
	}
	b.mu.Lock()
	if b.m == nil || len(b.m) >= 20_000 {
		b.m = make(map[string]bool, 1024)
	}
	b.m[ua] = v
	b.mu.Unlock()
	return v
}

// IPHash is the keyed hash stored instead of an address (self-referral checks).
func (k *Clicker) IPHash(ip string) []byte { return k.ipHash(ip) }

func (k *Clicker) refresher() {
	defer k.done.Done()
	t := time.NewTicker(k.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := k.refresh(ctx); err != nil {
				k.logger.Warn("link cache refresh failed", "error", err)
			}
			cancel()
		}
	}
}

// refresh applies every link changed since the last refresh, a page at a time
// (the first one loads every link), and forgets remembered misses.
func (k *Clicker) refresh(ctx context.Context) error {
	progRows, err := k.store.ProgramTracking(ctx)
	if err != nil {
		return err
	}
	pt := &programTracking{fallbacks: map[uuid.UUID]string{}, hosts: map[string]uuid.UUID{}}
	for _, r := range progRows {
		if r.FallbackURL != nil {
			pt.fallbacks[r.ID] = *r.FallbackURL
		}
		if r.TrackingDomain != nil {
			pt.hosts[*r.TrackingDomain] = r.ID
		}
	}
	k.programs.Store(pt)
	const page = 10000
	for {
		rows, err := k.store.LinksChangedSince(ctx, db.LinksChangedSinceParams{AfterUpdatedAt: k.since, AfterID: k.sinceID, PageSize: page})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if l, ok := k.newCachedLink(r); ok {
				k.links.put(r.Code, l)
			}
			k.since, k.sinceID = r.UpdatedAt, r.ID
		}
		if len(rows) < page {
			break
		}
	}
	k.misses.reset()
	return nil
}

// Lookups is how many codes the cache missed were looked up in PostgreSQL.
func (k *Clicker) Lookups() int64 { return k.looked.Load() }

// CachedLinks is how many links the click cache holds.
func (k *Clicker) CachedLinks() int { return k.links.len() }

// linkCache holds every link by code in shards, so a refresh or a lookup adding
// links never copies the whole map and readers rarely meet a writer.
type linkCache struct {
	shards [64]struct {
		sync.RWMutex
		m map[string]*cachedLink
	}
}

func (c *linkCache) init() {
	for i := range c.shards {
		c.shards[i].m = map[string]*cachedLink{}
	}
}

func shardOf(code string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(code); i++ {
		h = (h ^ uint64(code[i])) * 1099511628211
	}
	return h % 64
}

func (c *linkCache) get(code string) *cachedLink {
	s := &c.shards[shardOf(code)]
	s.RLock()
	l := s.m[code]
	s.RUnlock()
	return l
}

func (c *linkCache) put(code string, l *cachedLink) {
	s := &c.shards[shardOf(code)]
	s.Lock()
	s.m[code] = l
	s.Unlock()
}

func (c *linkCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].RLock()
		n += len(c.shards[i].m)
		c.shards[i].RUnlock()
	}
	return n
}

// missCache remembers codes PostgreSQL does not have, until the next refresh;
// bounded, so a flood of made-up codes costs one lookup each at most per refresh.
type missCache struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func (c *missCache) init() { c.m = map[string]struct{}{} }

func (c *missCache) has(code string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[code]
	return ok
}

func (c *missCache) add(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 100_000 {
		clear(c.m)
	}
	c.m[code] = struct{}{}
}

func (c *missCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// clickQueue holds answered clicks until the writer takes them: an append under
// a mutex per click (a channel woke the writer for every click, a context switch
// each), and a signal when a batch is full. Bounded: beyond max, clicks are dropped.
type clickQueue struct {
	mu    sync.Mutex
	rows  []db.InsertClicksParams
	spare []db.InsertClicksParams
	max   int
	batch int
	full  chan struct{}
}

func (q *clickQueue) init(max, batch int) {
	q.max, q.batch, q.full = max, batch, make(chan struct{}, 1)
	q.rows = make([]db.InsertClicksParams, 0, min(max, 2*batch))
}

func (q *clickQueue) add(row db.InsertClicksParams) bool {
	q.mu.Lock()
	if len(q.rows) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.rows = append(q.rows, row)
	n := len(q.rows)
	q.mu.Unlock()
	if n == q.batch {
		select {
		case q.full <- struct{}{}:
		default:
		}
	}
	return true
}

// take hands over everything queued, giving the queue the slice the writer
// finished with (two slices alternate: no allocation in steady state).
func (q *clickQueue) take(done []db.InsertClicksParams) []db.InsertClicksParams {
	q.mu.Lock()
	defer q.mu.Unlock()
	rows := q.rows
	q.rows = done[:0]
	return rows
}

func (q *clickQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.rows)
}

// writer takes what is queued every FlushInterval, as soon as a batch is
// full, or when a postback waits for its click (AwaitStored), and writes it in
// COPY batches of up to BatchSize; on stop it writes everything left.
func (k *Clicker) writer() {
	defer k.done.Done()
	t := time.NewTicker(k.cfg.FlushInterval)
	defer t.Stop()
	var done []db.InsertClicksParams
	var waiting []chan struct{}
	for {
		stopping := false
		select {
		case <-t.C:
		case <-k.queue.full:
		case w := <-k.syncs:
			waiting = append(waiting, w)
		case <-k.stop:
			stopping = true
		}
		for more := true; more; { // every postback waiting now is served by this take
			select {
			case w := <-k.syncs:
				waiting = append(waiting, w)
			default:
				more = false
			}
		}
		cut := time.Now()
		taken := k.queue.take(done)
		for i := 0; i < len(taken); i += k.cfg.BatchSize {
			k.flush(taken[i:min(len(taken), i+k.cfg.BatchSize)])
		}
		k.storedThrough.Store(cut.UnixNano())
		for _, w := range waiting {
			close(w)
		}
		clear(taken) // let the batch's strings go
		done, waiting = taken[:0], waiting[:0]
		if stopping {
			return
		}
	}
}

// AwaitStored returns once the click with this id is in PostgreSQL, if this
// process answered it: a postback by click id can follow its click by less than
// FlushInterval (a script, a test, a fast checkout), and a click still queued
// would be looked up in vain. A click older than the writer's last take (a
// second's margin: the id's time is taken just before the click is queued)
// returns at once; so does a stop or the caller's deadline. Never call it
// holding a connection: the writer needs one.
func (k *Clicker) AwaitStored(ctx context.Context, id uuid.UUID) {
	if at := time.Unix(id.Time().UnixTime()); at.UnixNano() < k.storedThrough.Load()-int64(time.Second) {
		return
	}
	w := make(chan struct{})
	select {
	case k.syncs <- w:
	case <-k.stop: // stopped: Close wrote everything left
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-w:
	case <-ctx.Done():
	}
}

func (k *Clicker) flush(batch []db.InsertClicksParams) {
	start := time.Now()
	stats := countClicks(batch)
	var err error
	for attempt := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var n int64
		err = k.store.InTx(ctx, func(q *db.Queries) (err error) {
			if n, err = q.InsertClicks(ctx, batch); err != nil {
				return err
			}
			return q.AddClickStats(ctx, stats)
		})
		cancel()
		if err == nil {
			k.m.stored.Add(float64(n))
			k.m.flush.Observe(time.Since(start).Seconds())
			return
		}
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
	k.m.lost.Add(float64(len(batch)))
	k.logger.Error("clicks lost after retries", "count", len(batch), "error", err)
}

// countClicks is a batch's clicks per link and UTC day, as click_stats adds them.
func countClicks(batch []db.InsertClicksParams) db.AddClickStatsParams {
	type key struct {
		link uuid.UUID
		day  time.Time
	}
	at := map[key]int{}
	var p db.AddClickStatsParams
	for i := range batch {
		c := &batch[i]
		k := key{c.LinkID, c.ClickedAt.UTC().Truncate(24 * time.Hour)}
		j, ok := at[k]
		if !ok {
			j = len(p.LinkIds)
			at[k] = j
			p.ProgramIds, p.Days, p.LinkIds, p.PartnerIds = append(p.ProgramIds, c.ProgramID), append(p.Days, k.day), append(p.LinkIds, c.LinkID), append(p.PartnerIds, c.PartnerID)
			p.Clicks, p.UniqueClicks, p.FlaggedClicks = append(p.Clicks, 0), append(p.UniqueClicks, 0), append(p.FlaggedClicks, 0)
		}
		p.Clicks[j]++
		if c.Bot || c.Duplicate || c.Malformed {
			p.FlaggedClicks[j]++
		} else {
			p.UniqueClicks[j]++
		}
	}
	return p
}

// Close stops the cache and flushes every queued click. Call it after the HTTP
// server has stopped handing out clicks.
func (k *Clicker) Close() {
	k.closeOnce.Do(func() {
		close(k.stop)
		k.done.Wait()
	})
}

// Stored reports how many clicks were written (for benchmarks and tests).
func (k *Clicker) Counts() (accepted, dropped, stored, lost float64) {
	return counterValue(k.m.accepted), counterValue(k.m.dropped), counterValue(k.m.stored), counterValue(k.m.lost)
}

// dedupeSet remembers (address, user agent, link) for an hour, in shards.
type dedupeSet struct {
	shards [64]struct {
		sync.Mutex
		m map[uint64]int64
	}
}

func newDedupeSet() *dedupeSet {
	d := &dedupeSet{}
	for i := range d.shards {
		d.shards[i].m = map[uint64]int64{}
	}
	return d
}

// dedupeSeed keys dedupeKey for the life of the process (the set is in memory).
var dedupeSeed = maphash.MakeSeed()

// dedupeKey hashes address hash, user agent and link without allocating
// (maphash: AES-based, many bytes a step, where FNV took a browser's ~110-byte
// user agent one byte at a time).
func dedupeKey(ipHash []byte, ua string, link uuid.UUID) uint64 {
	var h maphash.Hash
	h.SetSeed(dedupeSeed)
	h.Write(ipHash)
	h.WriteString(ua)
	h.Write(link[:])
	return h.Sum64()
}

// seen records the key and reports whether it was seen within the last hour.
func (d *dedupeSet) seen(key uint64, now time.Time) bool {
	s := &d.shards[key%64]
	s.Lock()
	defer s.Unlock()
	until, ok := s.m[key]
	t := now.Unix()
	if len(s.m) > 100_000 { // bounded: forget what has expired
		for k, u := range s.m {
			if u < t {
				delete(s.m, k)
			}
		}
	}
	s.m[key] = t + 3600
	return ok && until >= t
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
