// Command clickbench measures the click path the way the README reports it: the
// real GET /c/{code} handler (link cache, signed cookie, batched COPY into
// PostgreSQL) against a bare Gin handler that only answers the same 302, both in
// their own processes, driven in the same run by the same load generator. Then it
// ingests conversions through the API. Run by `make bench`.
//
//	clickbench [-duration 10s] [-conns 64] [-conversions 100000]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

var (
	tokenKey = []byte("clickbench-token-key-0123456789abcdef")
	ipKey    = []byte("clickbench-ip-key-0123456789abcdefgh")
)

func main() {
	// UUIDs (a UUIDv7 per click) from a buffered pool of random bytes: one
	// getrandom per 16 ids. Enabled before anything else runs, as it must be.
	uuid.EnableRandPool()
	mode := flag.String("serve", "", "internal: run a server (click or bare) for the parent")
	dbURL := flag.String("db", "", "internal: the database")
	duration := flag.Duration("duration", 10*time.Second, "how long each load runs")
	conns := flag.Int("conns", 64, "concurrent connections")
	conversions := flag.Int("conversions", 100_000, "conversions to ingest")
	closeLines := flag.Int("close-lines", 1_000_000, "commission lines for the close benchmark (0 skips it)")
	closePartners := flag.Int("close-partners", 10_000, "partners for the close benchmark")
	links := flag.Int("links", 1_000_000, "active links for the link cache benchmark (0 skips it)")
	portalDeals := flag.Int("portal-deals", 20_000, "waiting deals for the portal benchmark (0 skips it)")
	only := flag.String("only", "", "run one benchmark: clicks, conversions, links or portal")
	soakBase := flag.String("soak", "", "drive a running partnerops at this URL at a constant rate (see soak.go)")
	adminKey := flag.String("admin-key", ".data/admin-key", "soak: the file holding an admin key")
	clickRate := flag.Int("click-rate", 1500, "soak: clicks a second")
	convRate := flag.Int("conversion-rate", 40, "soak: conversions a second")
	flag.Parse()
	if *soakBase != "" {
		if err := soak(*soakBase, *adminKey, *duration, *clickRate, *convRate); err != nil {
			fmt.Fprintln(os.Stderr, "clickbench:", err)
			os.Exit(1)
		}
		return
	}
	api.TuneRuntime() // both servers (and this load generator) run as partnerops does
	var err error
	switch *mode {
	case "click":
		err = serveClick(*dbURL)
	case "bare":
		err = serveBare()
	case "" /* a parent */ :
		if *only == "portal" {
			err = benchPortal(*portalDeals)
			break
		}
		if *only == "links" {
			err = benchLinks(*links)
			break
		}
		if *only == "clicks" {
			err = bench(*duration, *conns, 0)
			break
		}
		if *only == "conversions" {
			err = benchConversions(*conversions)
			break
		}
		fallthrough
	default:
		err = bench(*duration, *conns, *conversions)
		if err == nil && *links > 0 {
			err = benchLinks(*links)
		}
		if err == nil && *portalDeals > 0 {
			err = benchPortal(*portalDeals)
		}
		if err == nil && *closeLines > 0 {
			err = benchClose(*closeLines, *closePartners)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clickbench:", err)
		os.Exit(1)
	}
}

// --- the servers (child processes) ---

// listen prints the address for the parent and serves until SIGTERM, then shuts
// down gracefully and runs after().
func listen(h http.Handler, after func()) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	hs := api.NewHTTPServer(h, api.DefaultConfig().RequestTimeout) // as partnerops serves, for both servers
	go hs.Serve(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		return err
	}
	after()
	return nil
}

func serveClick(dbURL string) error {
	ctx := context.Background()
	if path := os.Getenv("CLICKBENCH_CPUPROFILE"); path != "" { // for finding what the click path spends
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	pool, err := db.Open(ctx, dbURL, 10)
	if err != nil {
		return err
	}
	cfg := api.DefaultConfig()
	cfg.RateLimit = 0
	if n, err := strconv.Atoi(os.Getenv("CONVERSION_WRITERS")); err == nil {
		cfg.ConversionWriters = n
	}
	cfg.Click.TokenKey, cfg.Click.IPKey = tokenKey, ipKey
	s, err := api.New(cfg, db.NewStore(pool), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	h, metrics := s.Handler(), s.MetricsHandler()
	// /metrics beside the API here (partnerops serve puts it on its own listener):
	// one string comparison a request.
	return listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			metrics.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}), func() {
		s.Close()
		accepted, dropped, stored, lost := s.Clicker().Counts()
		json.NewEncoder(os.Stdout).Encode(map[string]float64{"accepted": accepted, "dropped": dropped, "stored": stored, "lost": lost})
	})
}

// serveBare is the baseline: Gin with the same middleware-free route answering the same 302.
func serveBare() error {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// The same 302 + Set-Cookie as the click path answers (a cookie of the same length, a Location with a click id).
	cookie := "po_click=" + strings.Repeat("A", 99) + "; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
	e.GET("/c/:code", func(c *gin.Context) {
		c.Writer.Header()["Set-Cookie"] = []string{cookie}
		c.Redirect(http.StatusFound, "https://shop.example/landing?po_click_id=AZqL3m9xR2e8Yq0JtW5k1A")
	})
	return listen(e, func() {})
}

type child struct {
	cmd  *exec.Cmd
	addr string
	out  *bufio.Reader
}

func start(args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := bufio.NewReader(stdout)
	addr, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("server did not start: %w", err)
	}
	return &child{cmd: cmd, addr: strings.TrimSpace(addr), out: r}, nil
}

// peakRSS reads the child's high-water resident set size in MB.
func (c *child) peakRSS() float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

// stop sends SIGTERM and returns what the child printed after its shutdown.
func (c *child) stop() (string, error) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(c.out)
	return string(rest), c.cmd.Wait()
}

// --- the load generator ---

type result struct {
	requests  int64
	found     int64
	errors    int64
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) add(o result) result {
	return result{requests: r.requests + o.requests, found: r.found + o.found, errors: r.errors + o.errors,
		elapsed: r.elapsed + o.elapsed, latencies: append(r.latencies, o.latencies...)}
}

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(float64(len(r.latencies)-1)*p)]
}

func load(target string, conns int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer tr.CloseIdleConnections()
	var (
		mu  sync.Mutex
		all result
		wg  sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local result
			ua := fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) bench/%d", i)
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", target, nil)
				req.Header.Set("User-Agent", ua)
				t0 := time.Now()
				resp, err := client.Do(req)
				lat := time.Since(t0)
				local.requests++
				if err != nil {
					local.errors++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusFound {
					local.found++
				}
				local.latencies = append(local.latencies, lat)
			}
			mu.Lock()
			all.requests += local.requests
			all.found += local.found
			all.errors += local.errors
			all.latencies = append(all.latencies, local.latencies...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	slices.Sort(all.latencies)
	return all
}

// wrkRound drives target with wrk (an independent load generator in its own
// process, as the README's headline figure needs) and reads its summary.
type wrkResult struct {
	requests int64
	rps      float64
	p50, p99 time.Duration
	cpu      time.Duration // wrk's own CPU time
	non2xx   int64         // answers other than 2xx and 3xx
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP50      = regexp.MustCompile(`\s50%\s+([\d.]+)(us|ms|s)`)
	wrkP99      = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// wrkConversions posts sales through the API with wrk for d (32 connections, as
// the Go generator's 32 workers), each with an external id of its own and a
// click token, and counts what PostgreSQL recorded of them: the same path as
// ingest, measured by a generator that does not share Go's costs.
func wrkConversions(ctx context.Context, base string, f benchFixture, pool *pgxpool.Pool, d time.Duration) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		fmt.Println("conversions by click token with wrk: wrk is not installed (sudo apt-get install wrk)")
		return nil
	}
	clickedAt := time.Now().Add(-time.Hour)
	run := fmt.Sprintf("wrk%d-", time.Now().UnixNano())
	var script strings.Builder
	fmt.Fprintf(&script, "local head = %q\nlocal tail = '\",\"click_token\":\"'\nlocal tokens = {\n", fmt.Sprintf(
		`{"program_id":%q,"kind":"sale","amount":"49.90","currency":"USD","occurred_at":%q,"external_id":"%s`,
		f.programID, clickedAt.Add(10*time.Minute).UTC().Format(time.RFC3339Nano), run))
	for range 100 {
		tok := domain.ClickToken{ClickID: uuid.Must(uuid.NewV7()), LinkID: f.linkID, PartnerID: f.partnerID, ProgramID: f.programID, ClickedAt: clickedAt}
		fmt.Fprintf(&script, "  %q,\n", tok.Sign(tokenKey))
	}
	fmt.Fprintf(&script, `}
local headers = { ["Authorization"] = %q, ["Content-Type"] = "application/json" }
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
function request()
  n = n + 1
  return wrk.format("POST", "/v1/conversions", headers, head .. tid .. "-" .. n .. tail .. tokens[n %% #tokens + 1] .. '"}')
end
`, "Bearer "+f.integrationKey)
	path := filepath.Join(os.TempDir(), run+"conversions.lua")
	if err := os.WriteFile(path, []byte(script.String()), 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	r, err := wrkRound(base+"/v1/conversions", 32, d, "-s", path)
	if err != nil {
		return err
	}
	var recorded int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM conversions WHERE external_id LIKE $1", run+"%").Scan(&recorded); err != nil {
		return err
	}
	fmt.Printf("conversions by click token with wrk -t2 -c32 for %s: %.0f/s, p50 %s, p99 %s (%d answered, %d not 201; %d recorded)\n",
		d, r.rps, r.p50, r.p99, r.requests, r.non2xx, recorded)
	if r.non2xx > 0 || recorded < r.requests-r.non2xx {
		return fmt.Errorf("wrk's conversions: %d answered, %d refused, %d recorded", r.requests, r.non2xx, recorded)
	}
	return nil
}

func wrkRound(target string, conns int, d time.Duration, args ...string) (wrkResult, error) {
	args = append([]string{"-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", max(1, int(d.Round(time.Second).Seconds()))), "--latency",
		"-H", "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}, args...)
	cmd := exec.Command("wrk", append(args, target)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	r := wrkResult{cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		fmt.Sscan(string(m[1]), &r.non2xx)
	}
	m1, m2, m3, m4 := wrkRequests.FindSubmatch(out), wrkRPS.FindSubmatch(out), wrkP50.FindSubmatch(out), wrkP99.FindSubmatch(out)
	if m1 == nil || m2 == nil || m3 == nil || m4 == nil {
		return r, fmt.Errorf("wrk's output: %s", out)
	}
	fmt.Sscan(string(m1[1]), &r.requests)
	fmt.Sscan(string(m2[1]), &r.rps)
	dur := func(m [][]byte) time.Duration {
		var v float64
		fmt.Sscan(string(m[1]), &v)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[2])]
		return time.Duration(v * float64(unit)).Round(time.Microsecond) // 8.36 ms, not 8.359999 ms
	}
	r.p50, r.p99 = dur(m3), dur(m4)
	return r, nil
}

// median of the rounds' figures.
func median[T int64 | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// procCPU is a process's CPU time so far (user + system; with its reaped
// children's when children is true), from /proc; 0 if it cannot be read.
func procCPU(pid int, children bool) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:])) // fields from the state on
	ticks := 0
	for i, n := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
		if i >= 2 && !children {
			break
		}
		v, _ := strconv.Atoi(f[n])
		ticks += v
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// postgresCPU is the CPU time of the local PostgreSQL server's processes: the
// live ones and, through the postmaster's children's times, those that ended.
func postgresCPU() time.Duration {
	var total time.Duration
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || !bytes.Contains(b, []byte("(postgres)")) {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		total += procCPU(pid, f[1] == "1") // the postmaster's parent is init
	}
	return total
}

// cpuPer is CPU time per request in µs.
func cpuPer(d time.Duration, requests int64) float64 {
	return float64(d.Microseconds()) / float64(max(requests, 1))
}

// wrkCompare alternates wrk rounds between the bare handler and the click path
// and prints the medians; it answers how many requests the click path got.
//
// Each round also says where the CPU went per request, in µs: the server
// process, PostgreSQL (all its processes) and wrk; the cores are shared, so a
// µs taken by one is a µs the others cannot have.
func wrkCompare(bare, click *child, bareURL, clickURL string, conns int, d time.Duration, rounds int) (int64, error) {
	var bRPS, cRPS []float64
	var bP50, cP50, bP99, cP99 []time.Duration
	var answered int64
	round := func(c *child, url string) (wrkResult, [3]float64, error) {
		srv0, pg0 := procCPU(c.cmd.Process.Pid, false), postgresCPU()
		r, err := wrkRound(url, conns, d)
		srv, pg := procCPU(c.cmd.Process.Pid, false)-srv0, postgresCPU()-pg0
		return r, [3]float64{cpuPer(srv, r.requests), cpuPer(pg, r.requests), cpuPer(r.cpu, r.requests)}, err
	}
	for range rounds {
		b, bc, err := round(bare, bareURL)
		if err != nil {
			return answered, err
		}
		c, cc, err := round(click, clickURL)
		if err != nil {
			return answered, err
		}
		answered += c.requests
		bRPS, cRPS = append(bRPS, b.rps), append(cRPS, c.rps)
		bP50, cP50, bP99, cP99 = append(bP50, b.p50), append(cP50, c.p50), append(bP99, b.p99), append(cP99, c.p99)
		fmt.Printf("  round: bare %6.0f req/s p99 %-8s   click %6.0f req/s p99 %-8s   ratio %.2f   CPU µs/request server+postgres+wrk: bare %.1f+%.1f+%.1f click %.1f+%.1f+%.1f\n",
			b.rps, b.p99, c.rps, c.p99, c.rps/b.rps, bc[0], bc[1], bc[2], cc[0], cc[1], cc[2])
	}
	fmt.Printf("\n%-28s %12s %12s %10s\n", "wrk, median of rounds", "bare Gin 302", "click path", "ratio")
	fmt.Printf("%-28s %12.0f %12.0f %10.2f\n", "requests/s", median(bRPS), median(cRPS), median(cRPS)/median(bRPS))
	fmt.Printf("%-28s %12s %12s %10.2f\n", "p50 latency", median(bP50), median(cP50), float64(median(cP50))/float64(median(bP50)))
	fmt.Printf("%-28s %12s %12s %10.2f\n\n", "p99 latency", median(bP99), median(cP99), float64(median(cP99))/float64(median(bP99)))
	return answered, nil
}

// --- the run ---

func bench(d time.Duration, conns, conversions int) error {
	ctx := context.Background()
	dbURL, store, f, closeDB, err := seededDatabase(ctx, "clicks", 10)
	if err != nil {
		return err
	}
	defer closeDB()
	pool := store.Pool

	fmt.Printf("click path: %d connections, %s per server in 4 alternating rounds, load generator on the same cores\n\n", conns, d)
	// Both servers run side by side; the load alternates between them in rounds
	// so that noise on the shared cores falls on both alike.
	bare, err := start("-serve", "bare")
	if err != nil {
		return err
	}
	click, err := start("-serve", "click", "-db", dbURL)
	if err != nil {
		return err
	}
	bareURL, clickURL := "http://"+bare.addr+"/c/"+f.code, "http://"+click.addr+"/c/"+f.code
	load(bareURL, conns, time.Second) // warm up
	warm := load(clickURL, conns, time.Second)
	var wrkAnswered int64
	if _, err := exec.LookPath("wrk"); err == nil {
		fmt.Printf("wrk -t2 -c%d, %s per round, 5 alternating rounds (the headline figure):\n", conns, d/2)
		if wrkAnswered, err = wrkCompare(bare, click, bareURL, clickURL, conns, d/2, 5); err != nil {
			return err
		}
	} else {
		fmt.Println("wrk is not installed (sudo apt-get install wrk): only the Go load generator's figures follow")
	}
	fmt.Println("Go load generator (same process for both, shares the cores with the servers):")
	const rounds = 4
	var b, c result
	for range rounds {
		b = b.add(load(bareURL, conns, d/rounds))
		c = c.add(load(clickURL, conns, d/rounds))
	}
	slices.Sort(b.latencies)
	slices.Sort(c.latencies)
	bareRSS, clickRSS := bare.peakRSS(), click.peakRSS()
	if _, err := bare.stop(); err != nil {
		return err
	}

	// Conversions through the API on the same server, attributed by click token;
	// then by the click ids of clicks just stored, with order ids.
	var conv, byClick result
	var convBatch float64
	var convInServer time.Duration
	if conversions > 0 { // -only clicks skips them
		conv = ingest("http://"+click.addr, f, conversions, 32)
		convBatch, convInServer = conversionStats("http://" + click.addr)
		if err := wrkConversions(ctx, "http://"+click.addr, f, pool, 10*time.Second); err != nil {
			return err
		}
		rows, err := pool.Query(ctx, "SELECT id FROM clicks LIMIT $1", conversions/5)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		byClick = ingestByClickID("http://"+click.addr, f, ids, 32)
	}

	out, err := click.stop()
	if err != nil {
		return err
	}
	var counts map[string]float64
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &counts); err != nil {
		return fmt.Errorf("click server's counts %q: %w", out, err)
	}
	var stored, lines int64
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM clicks").Scan(&stored)
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM commission_lines").Scan(&lines)
	answered := warm.found + c.found + wrkAnswered

	fmt.Printf("%-28s %12s %12s %10s\n", "", "bare Gin 302", "click path", "ratio")
	fmt.Printf("%-28s %12.0f %12.0f %10.2f\n", "requests/s", b.rps(), c.rps(), c.rps()/b.rps())
	fmt.Printf("%-28s %12s %12s %10.2f\n", "p50 latency", b.pct(0.50).Round(time.Microsecond), c.pct(0.50).Round(time.Microsecond), float64(c.pct(0.5))/float64(b.pct(0.5)))
	fmt.Printf("%-28s %12s %12s %10.2f\n", "p99 latency", b.pct(0.99).Round(time.Microsecond), c.pct(0.99).Round(time.Microsecond), float64(c.pct(0.99))/float64(b.pct(0.99)))
	fmt.Printf("%-28s %12.1f %12.1f\n", "peak RSS (MB)", bareRSS, clickRSS)
	fmt.Printf("%-28s %12d %12d\n", "errors", b.errors, c.errors)
	served := int64(counts["accepted"] + counts["dropped"]) // every 302 the server wrote
	fmt.Printf("\nclicks: %d answered with 302 (%d seen complete by the load generators), %.0f dropped, %d stored in PostgreSQL after a graceful stop (stored = answered: %v)\n",
		served, answered, counts["dropped"], stored, stored == served)
	if conversions > 0 {
		fmt.Printf("conversions by click token: %d in %s = %.0f/s (%d errors); %.1f postbacks a batch, %s in the server, %s at the load generator (means)\n",
			conv.requests, conv.elapsed.Round(time.Millisecond), conv.rps(), conv.errors, convBatch, convInServer.Round(time.Microsecond), (32 * conv.elapsed / time.Duration(conv.requests)).Round(time.Microsecond))
		fmt.Printf("conversions by click id and order id (the tracking snippet's postback): %d in %s = %.0f/s (%d errors); %d commission lines in all\n",
			byClick.requests, byClick.elapsed.Round(time.Millisecond), byClick.rps(), byClick.errors, lines)
	}
	if stored != served || answered > served {
		return fmt.Errorf("stored %d clicks but answered %d (%d seen)", stored, served, answered)
	}
	return nil
}

// benchConversions ingests n conversions through the API alone (no click load
// before it), for profiling the conversion path.
func benchConversions(n int) error {
	ctx := context.Background()
	dbURL, store, f, closeDB, err := seededDatabase(ctx, "conversions", 4)
	if err != nil {
		return err
	}
	defer closeDB()
	click, err := start("-serve", "click", "-db", dbURL)
	if err != nil {
		return err
	}
	conv := ingest("http://"+click.addr, f, n, 32)
	batch, inServer := conversionStats("http://" + click.addr)
	var lines int64
	_ = store.Pool.QueryRow(ctx, "SELECT count(*) FROM commission_lines").Scan(&lines)
	fmt.Printf("conversions: %d in %s = %.0f/s (%d errors), %d commission lines; %.1f postbacks a batch, %s in the server, %s at the load generator (means)\n",
		conv.requests, conv.elapsed.Round(time.Millisecond), conv.rps(), conv.errors, lines, batch, inServer.Round(time.Microsecond), (32 * conv.elapsed / time.Duration(conv.requests)).Round(time.Microsecond))
	werr := wrkConversions(ctx, "http://"+click.addr, f, store.Pool, 10*time.Second)
	if _, err := click.stop(); err != nil {
		return err
	}
	return werr
}

// conversionStats reads from the server's metrics the mean postbacks a batch
// and the mean time a postback spent in the server.
func conversionStats(base string) (batch float64, inServer time.Duration) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		switch name {
		case "partnerops_conversion_batch_size_sum", "partnerops_conversion_batch_size_count",
			`partnerops_http_request_duration_seconds_sum{method="POST",route="/v1/conversions"}`,
			`partnerops_http_request_duration_seconds_count{method="POST",route="/v1/conversions"}`:
			if ok {
				m[name], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	if n := m["partnerops_conversion_batch_size_count"]; n > 0 {
		batch = m["partnerops_conversion_batch_size_sum"] / n
	}
	if n := m[`partnerops_http_request_duration_seconds_count{method="POST",route="/v1/conversions"}`]; n > 0 {
		inServer = time.Duration(m[`partnerops_http_request_duration_seconds_sum{method="POST",route="/v1/conversions"}`] / n * 1e9)
	}
	return batch, inServer
}

type benchFixture struct {
	programID, partnerID, linkID uuid.UUID
	code, integrationKey         string
}

// seed makes a program with a 20% rule, an active partner, a link and an integration key.
func seed(ctx context.Context, store *db.Store) (benchFixture, error) {
	f := benchFixture{programID: uuid.Must(uuid.NewV7()), partnerID: uuid.Must(uuid.NewV7()), linkID: uuid.Must(uuid.NewV7()), code: "benchlink01"}
	q := store.Queries
	if _, err := q.CreateProgram(ctx, db.CreateProgramParams{ID: f.programID, Name: "bench", Kind: "affiliate", Currency: "USD", ReviewSLAHours: 48, AgreementVersion: "v1"}); err != nil {
		return f, err
	}
	tier, err := q.CreateTier(ctx, db.CreateTierParams{ID: uuid.Must(uuid.NewV7()), ProgramID: f.programID, Name: "Registered", DealProtectionDays: 90,
		MDFQuarterlyAllocation: domain.NewNumeric(decimal.Zero), DefaultMargin: domain.NewNumeric(decimal.Zero), RequiredCertifications: []string{}})
	if err != nil {
		return f, err
	}
	if _, err := q.CreatePartner(ctx, db.CreatePartnerParams{ID: f.partnerID, ProgramID: f.programID, TierID: tier.ID, Name: "Bench", Email: "bench@example.com",
		Company: "Bench", WebsiteDomain: "bench.example", PartnerType: "affiliate", WorkflowID: "partner-bench"}); err != nil {
		return f, err
	}
	if err := q.SetPartnerStatus(ctx, db.SetPartnerStatusParams{ID: f.partnerID, Status: "active", At: time.Now()}); err != nil {
		return f, err
	}
	if _, err := q.CreateLink(ctx, db.CreateLinkParams{ID: f.linkID, Code: f.code, ProgramID: f.programID, PartnerID: f.partnerID, Destination: "https://shop.example/landing"}); err != nil {
		return f, err
	}
	if _, err := q.CreateCommissionRule(ctx, db.CreateCommissionRuleParams{ID: uuid.Must(uuid.NewV7()), ProgramID: f.programID, Event: "sale", Kind: "percent",
		Rate: domain.NewNumeric(decimal.RequireFromString("0.20")), Amount: domain.NewNumeric(decimal.Zero), VolumeTiers: []byte("[]"), Recurring: "none",
		EffectiveFrom: time.Now().AddDate(0, -1, 0)}); err != nil {
		return f, err
	}
	k, err := api.CreateKey(ctx, q, domain.RoleIntegration, uuid.NullUUID{}, "bench")
	f.integrationKey = k.Key
	return f, err
}

// ingest posts n sales through the API, each attributed by a click token. The
// bodies are built from a template (the load generator shares the two cores
// with the server and PostgreSQL: what it spends is not the server's).
func ingest(base string, f benchFixture, n, workers int) result {
	clickedAt := time.Now().Add(-time.Hour)
	head := fmt.Sprintf(`{"program_id":%q,"kind":"sale","amount":"49.90","currency":"USD","occurred_at":%q,"external_id":"order-`,
		f.programID, clickedAt.Add(10*time.Minute).UTC().Format(time.RFC3339Nano))
	return post(base, f, n, workers, func(body []byte, i int64) []byte {
		tok := domain.ClickToken{ClickID: uuid.Must(uuid.NewV7()), LinkID: f.linkID, PartnerID: f.partnerID, ProgramID: f.programID, ClickedAt: clickedAt}
		body = append(strconv.AppendInt(append(body, head...), i, 10), `","click_token":"`...)
		return append(append(body, tok.Sign(tokenKey)...), `"}`...)
	})
}

// ingestByClickID posts a sale for each stored click, as a merchant with the
// tracking snippet does: the click id it kept and its order id (each looked up
// in the batch's read: the click, and whether the order was seen).
func ingestByClickID(base string, f benchFixture, clicks []uuid.UUID, workers int) result {
	head := fmt.Sprintf(`{"program_id":%q,"kind":"sale","amount":"49.90","currency":"USD","external_id":"by-click-`, f.programID)
	return post(base, f, len(clicks), workers, func(body []byte, i int64) []byte {
		body = append(strconv.AppendInt(append(body, head...), i, 10), `","order_id":"o-`...)
		body = append(strconv.AppendInt(body, i, 10), `","click_id":"`...)
		return append(append(body, domain.ShortClickID(clicks[i-1])...), `"}`...)
	})
}

// post sends n postbacks from workers goroutines; next appends the i-th body (from 1).
func post(base string, f benchFixture, n, workers int, next func(body []byte, i int64) []byte) result {
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Transport: tr}
	var counter, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	url, auth := base+"/v1/conversions", "Bearer "+f.integrationKey
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := make([]byte, 0, 512)
			for {
				i := counter.Add(1)
				if i > int64(n) {
					return
				}
				body = next(body[:0], i)
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
				req.Header.Set("Authorization", auth)
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return result{requests: int64(n), errors: errs.Load(), elapsed: time.Since(start)}
}

// benchLinks measures the click server's start with n active links: the time
// to load them into the cache and the resident memory it takes, that every
// code resolves, and that a link created after the load resolves at once.
func benchLinks(n int) error {
	ctx := context.Background()
	dbURL, store, f, closeDB, err := seededDatabase(ctx, "links", 4)
	if err != nil {
		return err
	}
	defer closeDB()
	pool := store.Pool
	fmt.Printf("\nlink cache: generating %d active links...\n", n)
	if _, err := pool.Exec(ctx, fmt.Sprintf(`INSERT INTO links (id, code, program_id, partner_id, destination, sub_id)
		SELECT gen_random_uuid(), 'L' || lpad(i::text, 9, '0'), '%s', '%s', 'https://shop.example/p/' || i || '?utm_campaign=c' || (i %% 100), ''
		FROM generate_series(1, %d) i`, f.programID, f.partnerID, n)); err != nil {
		return err
	}
	t0 := time.Now()
	click, err := start("-serve", "click", "-db", dbURL)
	if err != nil {
		return err
	}
	loaded := time.Since(t0)
	rss := click.peakRSS()
	bad := 0
	for i := range 1000 {
		code := fmt.Sprintf("L%09d", 1+(i*7919)%n)
		resp, err := noRedirect.Get("http://" + click.addr + "/c/" + code)
		if err != nil || resp.StatusCode != http.StatusFound {
			bad++
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO links (id, code, program_id, partner_id, destination, sub_id) VALUES (gen_random_uuid(), 'NEWLINK', $1, $2, 'https://shop.example/new', '')`, f.programID, f.partnerID); err != nil {
		return err
	}
	t1 := time.Now()
	resp, err := noRedirect.Get("http://" + click.addr + "/c/NEWLINK")
	if err != nil || resp.StatusCode != http.StatusFound {
		return fmt.Errorf("a link created after the load: %v %v", resp, err)
	}
	resp.Body.Close()
	fresh := time.Since(t1)
	if _, err := click.stop(); err != nil {
		return err
	}
	fmt.Printf("  %d links loaded at start in %s; peak RSS %.0f MB (%.0f bytes per link over the empty server's ~40 MB)\n",
		n, loaded.Round(time.Millisecond), rss, (rss-40)*1024*1024/float64(n))
	fmt.Printf("  1,000 codes clicked: %d not found; a link created after the load answered 302 in %s (looked up once)\n", bad, fresh.Round(time.Microsecond))
	if bad > 0 {
		return fmt.Errorf("%d of 1,000 codes were not found", bad)
	}
	return nil
}

var noRedirect = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// benchDatabase creates a private database on DATABASE_URL's server.
func benchDatabase(ctx context.Context, name string) (string, func(), error) {
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = fmt.Sprintf("/partnerops_bench_%s_%d", name, os.Getpid())
	dbURL := u.String()
	if err := db.EnsureDatabase(ctx, dbURL); err != nil {
		return "", nil, fmt.Errorf("PostgreSQL (DATABASE_URL, default 127.0.0.1:5432): %w", err)
	}
	return dbURL, func() { db.DropDatabase(context.Background(), dbURL) }, nil
}

// seededDatabase is a private database (see benchDatabase), migrated, with the
// seed fixture; close drops it.
func seededDatabase(ctx context.Context, name string, conns int) (dbURL string, store *db.Store, f benchFixture, close func(), err error) {
	dbURL, drop, err := benchDatabase(ctx, name)
	if err != nil {
		return "", nil, f, nil, err
	}
	pool, err := db.Open(ctx, dbURL, int32(conns))
	if err != nil {
		drop()
		return "", nil, f, nil, err
	}
	close = func() { pool.Close(); drop() }
	store = db.NewStore(pool)
	if err = db.Migrate(ctx, pool); err == nil {
		f, err = seed(ctx, store)
	}
	if err != nil {
		close()
		return "", nil, f, nil, err
	}
	return dbURL, store, f, close, nil
}

// benchClose closes a month of n commission lines across p partners: the freeze
// and the statements (set-based SQL, the activity the worker runs) and the payout
// rows. It reports the seconds and this process's peak memory.
func benchClose(n, p int) error {
	ctx := context.Background()
	dbURL, drop, err := benchDatabase(ctx, "close")
	if err != nil {
		return err
	}
	defer drop()
	pool, err := db.Open(ctx, dbURL, 10)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool); err != nil {
		return err
	}
	store := db.NewStore(pool)
	f, err := seed(ctx, store)
	if err != nil {
		return err
	}
	fmt.Printf("\nclose: generating %d payable lines across %d partners...\n", n, p)
	t0 := time.Now()
	steps := []string{
		// Every partner says where to be paid (a partner without payout details is carried, not paid).
		fmt.Sprintf(`INSERT INTO partners (id, program_id, tier_id, name, email, company, website_domain, partner_type, status, workflow_id)
			SELECT gen_random_uuid(), '%s', (SELECT tier_id FROM partners WHERE id = '%s'), 'P' || i, 'p' || i || '@bench.example', 'Company ' || i,
			       'p' || i || '.example', 'affiliate', 'active', 'partner-bench-' || i
			FROM generate_series(1, %d) i`, f.programID, f.partnerID, p),
		`INSERT INTO payout_details (id, partner_id, version, method, destination, created_by, confirmed_by, confirmed_at)
			SELECT gen_random_uuid(), id, 1, 'provider', 'acct_bench' || row_number() OVER (ORDER BY id), 'bench', 'first details', now() FROM partners`,
		`CREATE TEMP TABLE bench_partners AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM partners`,
		fmt.Sprintf(`INSERT INTO commission_lines (id, program_id, partner_id, kind, source_type, source_id, amount, currency, status, description, occurred_at, dedupe_key)
			SELECT gen_random_uuid(), '%s', bp.id,
			       CASE WHEN i %% 50 = 0 THEN 'clawback' WHEN i %% 20 = 0 THEN 'deal_margin' ELSE 'commission' END, 'bench', gen_random_uuid(),
			       CASE WHEN i %% 50 = 0 THEN -1.25 ELSE (i %% 997) / 100.0 + 0.01 END, 'USD', 'payable', '',
			       timestamptz '2026-10-01' + (i %% 2592000) * interval '1 second', 'bench/' || i
			FROM generate_series(1, %d) i JOIN bench_partners bp ON bp.n = 1 + (i %% %d)`, f.programID, n, p+1),
		`ANALYZE commission_lines`,
	}
	for _, q := range steps {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	}
	fmt.Printf("  generated in %s\n", time.Since(t0).Round(time.Millisecond))

	month := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	closeID := uuid.Must(uuid.NewV7())
	if _, err := store.InsertClose(ctx, db.InsertCloseParams{ID: closeID, ProgramID: f.programID, Month: domain.NewDate(month), PeriodEnd: month.AddDate(0, 1, 0), WorkflowID: "close-bench"}); err != nil {
		return err
	}
	acts := &activities.Activities{Store: store}
	t1 := time.Now()
	totals, err := acts.ComputeClose(ctx, closeID)
	if err != nil {
		return err
	}
	compute := time.Since(t1)
	t2 := time.Now()
	payouts, err := acts.CreatePayouts(ctx, closeID)
	if err != nil {
		return err
	}
	create := time.Since(t2)
	t3 := time.Now()
	recomputed := 0
	err = store.InTx(ctx, func(q *db.Queries) error { // the audit's recomputation, rolled back
		c, err := q.GetClose(ctx, closeID)
		if err != nil {
			return err
		}
		if err := activities.ComputeStatements(ctx, q, c); err != nil {
			return err
		}
		rows, err := q.ListStatements(ctx, closeID)
		recomputed = len(rows)
		if err != nil {
			return err
		}
		return errRollback
	})
	if err != nil && err != errRollback {
		return err
	}
	fmt.Printf("  freeze + statements: %d lines frozen into %d statements in %s (target < 60 s)\n", totals.Frozen, totals.Statements, compute.Round(time.Millisecond))
	fmt.Printf("  %d partners to pay %s USD, %s USD carried over; %d payout rows in %s\n", totals.ToPay, totals.Payable, totals.CarriedOut, len(payouts), create.Round(time.Millisecond))
	fmt.Printf("  recomputed for audit (read-only): %d statements in %s\n", recomputed, time.Since(t3).Round(time.Millisecond))
	fmt.Printf("  peak RSS of this process (which ran the activities): %.1f MB\n", selfPeakRSS())
	return nil
}

var errRollback = fmt.Errorf("rollback")

func selfPeakRSS() float64 {
	c := &child{cmd: &exec.Cmd{Process: &os.Process{Pid: os.Getpid()}}}
	return c.peakRSS()
}

// benchPortal measures the portal's largest pages: a manager's inbox over n
// waiting deals (its first page of 50) and the deals list (100 a page), one
// request at a time against the API's handler, as a manager signed in.
func benchPortal(n int) error {
	ctx := context.Background()
	_, store, f, closeDB, err := seededDatabase(ctx, "portal", 4)
	if err != nil {
		return err
	}
	defer closeDB()
	pool := store.Pool
	fmt.Printf("\nportal: %d deals waiting for a manager...\n", n)
	if _, err := pool.Exec(ctx, fmt.Sprintf(`INSERT INTO deals (id, program_id, partner_id, tier_id, customer_name, customer_name_normalized, customer_domain, country,
		contact_name, contact_email, estimated_value, currency, products, expected_close_date, status, stage, workflow_id, created_at)
		SELECT gen_random_uuid(), p.program_id, p.id, p.tier_id, 'Customer ' || i, 'customer ' || i, 'customer-' || i || '.example', 'DE',
		       'Jana', 'jana@customer-' || i || '.example', 1000 + i, 'USD', '{Platform}', current_date + 30, 'pending_approval', 'qualified',
		       'deal-bench-' || i, now() - (i || ' minutes')::interval
		FROM partners p, generate_series(1, %d) i WHERE p.id = '%s'`, n, f.partnerID)); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		return err
	}
	u, err := api.CreateUser(ctx, store.Queries, "manager@bench.example", "Bench", domain.RoleManager, uuid.NullUUID{}, uuid.NullUUID{})
	if err != nil {
		return err
	}
	secret := uuid.NewString()
	hash := sha256.Sum256([]byte(secret))
	if err := store.CreateSession(ctx, db.CreateSessionParams{IDHash: hash[:], UserID: u.ID, CsrfToken: "bench", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		return err
	}
	cfg := api.DefaultConfig()
	cfg.RateLimit = 0
	srv, err := api.New(cfg, store, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	for _, page := range []string{"/", "/deals"} {
		var lat []time.Duration
		for i := range 520 {
			req, _ := http.NewRequest("GET", ts.URL+page, nil)
			req.AddCookie(&http.Cookie{Name: "po_session", Value: secret})
			t0 := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Customer ")) {
				return fmt.Errorf("portal %s answered %d", page, resp.StatusCode)
			}
			if i >= 20 { // warm-up
				lat = append(lat, time.Since(t0))
			}
		}
		slices.Sort(lat)
		fmt.Printf("  GET %-7s 500 requests: p50 %s, p99 %s, max %s\n", page, lat[len(lat)/2].Round(10*time.Microsecond),
			lat[len(lat)*99/100].Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	}
	return nil
}
