package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
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
	return ClickConfig{QueueSize: 65536, BatchSize: 2000, FlushInterval: 50 * time.Millisecond, Refresh: 2 * time.Second}
}

const clickCookie = "po_click"

// cachedLink is what the handler needs of a link, resolved once.
type cachedLink struct {
	id, partnerID, programID uuid.UUID
	dest                     *url.URL
	destString               string // dest with the sub-id, for requests without a query
	subID                    string
	firstClick               bool
	window                   time.Duration
	maxAge                   string // the cookie's Max-Age, formatted once
	disabled                 bool
}

// Clicker serves GET /c/{code}: it never waits on PostgreSQL. Links come from an
// in-process cache refreshed from the database; clicks go to a queue that one
// writer drains in batches with COPY, under its own context (a client hanging up
// must not cancel a write). Close flushes every accepted click.
type Clicker struct {
	cfg       ClickConfig
	store     *db.Store
	logger    *slog.Logger
	links     atomic.Pointer[map[string]*cachedLink]
	fallbacks atomic.Pointer[map[uuid.UUID]string]
	since     time.Time
	queue     chan db.InsertClicksParams
	dedupe    *dedupeSet
	stop      chan struct{}
	done      sync.WaitGroup
	tokenMACs sync.Pool // keyed HMAC states, reused: hmac.New per click is measurable
	ipMACs    sync.Pool
	closeOnce sync.Once
	m         clickMetrics
}

type clickMetrics struct {
	accepted, dropped, unknown, stored, lost prometheus.Counter
	flagged                                  *prometheus.CounterVec
	flush                                    prometheus.Histogram
}

func NewClicker(ctx context.Context, cfg ClickConfig, store *db.Store, logger *slog.Logger, reg prometheus.Registerer) (*Clicker, error) {
	k := &Clicker{cfg: cfg, store: store, logger: logger, queue: make(chan db.InsertClicksParams, cfg.QueueSize),
		dedupe: newDedupeSet(), stop: make(chan struct{})}
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
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "partnerops_click_queue_depth", Help: "Clicks waiting to be written."}, func() float64 { return float64(len(k.queue)) })
	for _, c := range []prometheus.Collector{k.m.accepted, k.m.dropped, k.m.unknown, k.m.stored, k.m.lost, k.m.flagged, k.m.flush, depth} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	if err := store.EnsureClickPartitions(ctx, 3); err != nil {
		return nil, err
	}
	empty := map[string]*cachedLink{}
	k.links.Store(&empty)
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	k.done.Add(2)
	go k.refresher()
	go k.writer()
	return k, nil
}

// Handle answers a click: 302 to the link's destination with the request's query
// and the sub-id carried over, the signed attribution cookie, and the click queued.
func (k *Clicker) Handle(c *gin.Context) {
	l := (*k.links.Load())[c.Param("code")]
	if l == nil || l.disabled {
		k.m.unknown.Inc()
		if l != nil {
			if fb, ok := (*k.fallbacks.Load())[l.programID]; ok {
				c.Redirect(http.StatusFound, fb)
				return
			}
		}
		c.AbortWithStatusJSON(http.StatusNotFound, ErrorBody{Error: ErrorDetail{Code: "not_found", Message: "unknown link"}})
		return
	}
	now := time.Now()
	req := c.Request
	ua := req.UserAgent()
	ipHash := k.ipHash(c.ClientIP())
	bot := domain.IsBot(ua)
	malformed := domain.MalformedClick(ua, len(req.URL.RawQuery))
	duplicate := k.dedupe.seen(dedupeKey(ipHash, ua, l.id), now)
	clickID := uuid.Must(uuid.NewV7())

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
		mac := k.tokenMACs.Get().(hash.Hash)
		signed := tok.SignWith(mac)
		k.tokenMACs.Put(mac)
		// Written directly: the token is base64url and needs none of SetCookie's checks.
		cookie := clickCookie + "=" + signed + "; Path=/; Max-Age=" + l.maxAge + "; HttpOnly; SameSite=Lax"
		if req.TLS != nil {
			cookie += "; Secure"
		}
		c.Writer.Header()["Set-Cookie"] = []string{cookie}
	}

	select {
	case k.queue <- db.InsertClicksParams{ID: clickID, LinkID: l.id, PartnerID: l.partnerID, ProgramID: l.programID, ClickedAt: now,
		IPHash: ipHash, UserAgent: truncate(ua, 512), Referer: truncate(req.Referer(), 1024), SubID: l.subID, Bot: bot, Duplicate: duplicate, Malformed: malformed}:
		k.m.accepted.Inc()
	default: // never block the redirect: the loss is counted, and the cookie still attributes
		k.m.dropped.Inc()
	}
	switch {
	case bot:
		k.m.flagged.WithLabelValues("bot").Inc()
	case malformed:
		k.m.flagged.WithLabelValues("malformed").Inc()
	case duplicate:
		k.m.flagged.WithLabelValues("duplicate").Inc()
	}
	c.Redirect(http.StatusFound, l.destination(req.URL.Query()))
}

// destination carries the request's query parameters over (the link's own win)
// and adds the sub-id.
func (l *cachedLink) destination(q url.Values) string {
	if len(q) == 0 {
		return l.destString
	}
	u := *l.dest
	merged := u.Query()
	for key, vs := range q {
		if _, own := merged[key]; !own {
			merged[key] = vs
		}
	}
	if l.subID != "" {
		merged.Set("sub_id", l.subID)
	}
	u.RawQuery = merged.Encode()
	return u.String()
}

func (k *Clicker) ipHash(ip string) []byte {
	m := k.ipMACs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(ip))
	sum := m.Sum(nil)[:16]
	k.ipMACs.Put(m)
	return sum
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

// refresh applies every link changed since the last refresh (copy on write).
func (k *Clicker) refresh(ctx context.Context) error {
	rows, err := k.store.LinksChangedSince(ctx, k.since)
	if err != nil {
		return err
	}
	fbRows, err := k.store.ProgramFallbacks(ctx)
	if err != nil {
		return err
	}
	fb := make(map[uuid.UUID]string, len(fbRows))
	for _, r := range fbRows {
		fb[r.ID] = *r.FallbackURL
	}
	k.fallbacks.Store(&fb)
	if len(rows) == 0 {
		return nil
	}
	cur := *k.links.Load()
	next := make(map[string]*cachedLink, len(cur)+len(rows))
	for code, l := range cur {
		next[code] = l
	}
	for _, r := range rows {
		dest, err := url.Parse(r.Destination)
		if err != nil {
			continue
		}
		l := &cachedLink{id: r.ID, partnerID: r.PartnerID, programID: r.ProgramID, dest: dest, subID: r.SubID,
			firstClick: r.AttributionModel == "first_click", window: time.Duration(r.CookieWindowDays) * 24 * time.Hour, disabled: r.DisabledAt != nil,
			maxAge: strconv.Itoa(int(r.CookieWindowDays) * 24 * 3600)}
		with := *dest
		if r.SubID != "" {
			q := with.Query()
			q.Set("sub_id", r.SubID)
			with.RawQuery = q.Encode()
		}
		l.destString = with.String()
		next[r.Code] = l
		if r.UpdatedAt.After(k.since) {
			k.since = r.UpdatedAt
		}
	}
	k.links.Store(&next)
	return nil
}

// writer drains the queue in batches: up to BatchSize clicks, or what arrived
// within FlushInterval of the first.
func (k *Clicker) writer() {
	defer k.done.Done()
	batch := make([]db.InsertClicksParams, 0, k.cfg.BatchSize)
	for {
		first, ok := <-k.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		timer := time.NewTimer(k.cfg.FlushInterval)
	collect:
		for len(batch) < k.cfg.BatchSize {
			select {
			case row, ok := <-k.queue:
				if !ok {
					break collect
				}
				batch = append(batch, row)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		k.flush(batch)
	}
}

func (k *Clicker) flush(batch []db.InsertClicksParams) {
	start := time.Now()
	var err error
	for attempt := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var n int64
		n, err = k.store.InsertClicks(ctx, batch)
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

// Close stops the cache and flushes every queued click. Call it after the HTTP
// server has stopped handing out clicks.
func (k *Clicker) Close() {
	k.closeOnce.Do(func() {
		close(k.stop)
		close(k.queue)
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

// dedupeKey is FNV-1a over address hash, user agent and link, without allocating.
func dedupeKey(ipHash []byte, ua string, link uuid.UUID) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, b := range ipHash {
		h = (h ^ uint64(b)) * prime
	}
	for i := 0; i < len(ua); i++ {
		h = (h ^ uint64(ua[i])) * prime
	}
	for _, b := range link {
		h = (h ^ uint64(b)) * prime
	}
	return h
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
