//go:build cluster

package main

// The checks that matter across replicas, against `partnerops cluster` (a
// Temporal server on PostgreSQL, two API replicas and two workers behind
// HAProxy) started from the binary `make test-cluster` builds, on a private
// database: run with `make test-cluster`.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/client"
)

var (
	lb       = fmt.Sprintf("http://127.0.0.1:%d", clusterHTTPPort)
	replicas = []string{fmt.Sprintf("http://127.0.0.1:%d", clusterAPIBasePort+1), fmt.Sprintf("http://127.0.0.1:%d", clusterAPIBasePort+2)}
)

// clusterUnderTest is the running cluster: its process, what it prints, its
// database and the admin key.
type clusterUnderTest struct {
	cmd     *exec.Cmd
	lines   chan string
	pool    *pgxpool.Pool
	admin   string
	dbName  string
	dbURL   string
	dataDir string
}

func startCluster(t *testing.T) *clusterUnderTest {
	t.Helper()
	bin := os.Getenv("PARTNEROPS")
	if bin == "" {
		t.Fatal("PARTNEROPS must name the partnerops binary (make test-cluster builds it)")
	}
	return startClusterFrom(t, bin)
}

// startClusterFrom starts `bin cluster` on a private database.
func startClusterFrom(t *testing.T, bin string) *clusterUnderTest {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx := context.Background()
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	name := "partnerops_cluster_" + suffix
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dataDir := t.TempDir()
	cmd := exec.Command(bin, "cluster")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+u.String(), "DATA_DIR="+dataDir,
		"CLUSTER_TEMPORAL_DB=partnerops_cluster_temporal_"+suffix,
		"TEMPORAL_CLI="+filepath.Join(filepath.Dir(os.Getenv("PARTNEROPS")), "temporal"),
		// A low per-key limit, so that one key's limit counted twice shows.
		"API_RATE_LIMIT=50", "API_RATE_BURST=40", "LOG_LEVEL=warn")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &clusterUnderTest{cmd: cmd, lines: make(chan string, 100), dbName: name, dbURL: u.String(), dataDir: dataDir}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Println("cluster |", sc.Text())
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		if c.pool != nil {
			c.pool.Close()
		}
		dropDatabases(base, name, "partnerops_cluster_temporal_"+suffix, "partnerops_cluster_temporal_"+suffix+"_visibility")
	})
	c.waitLine(t, "partnerops cluster is running", 4*time.Minute)
	key, err := os.ReadFile(filepath.Join(dataDir, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	c.admin = strings.TrimSpace(string(key))
	if c.pool, err = pgxpool.New(ctx, u.String()); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *clusterUnderTest) waitLine(t *testing.T, prefix string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l := <-c.lines:
			if strings.HasPrefix(l, prefix) {
				return
			}
		case <-deadline:
			t.Fatalf("the cluster did not print %q within %s", prefix, within)
		}
	}
}

func dropDatabases(base string, names ...string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	for _, n := range names {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
	}
}

// answer is a JSON answer.
type answer struct {
	status int
	body   map[string]any
	raw    []byte
	header http.Header
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }

var httpc = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func send(t *testing.T, base, method, path, key string, body any, headers ...string) answer {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, r)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, base, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: raw, header: resp.Header}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func must(t *testing.T, a answer, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("answered %d, want %d: %s", a.status, status, a.raw)
	}
	return a
}

// affiliateSetup: a program with a volume-tiered sale rule (10% up to the 10th
// sale of a month, 20% from the 11th), an active partner with a link, an
// integration key.
type affiliateSetup struct {
	program, partner, link, integration, manager, coupon string
}

func newAffiliate(t *testing.T, c *clusterUnderTest) affiliateSetup {
	t.Helper()
	var s affiliateSetup
	run := uuid.NewString()[:8]
	s.manager = must(t, send(t, lb, "POST", "/v1/keys", c.admin, map[string]any{"role": "manager"}), 201).str("key")
	s.integration = must(t, send(t, lb, "POST", "/v1/keys", c.admin, map[string]any{"role": "integration"}), 201).str("key")
	s.program = must(t, send(t, lb, "POST", "/v1/programs", c.admin, map[string]any{"name": "Cluster " + run, "kind": "affiliate", "currency": "EUR"}), 201).str("id")
	must(t, send(t, lb, "PUT", "/v1/programs/"+s.program+"/affiliate", c.admin, map[string]any{"allowed_domains": []string{"shop.example"},
		"attribution_model": "last_click", "cookie_window_days": 30, "holding_days": 30}), 200)
	must(t, send(t, lb, "POST", "/v1/commission-rules", c.admin, map[string]any{"program_id": s.program, "event": "sale", "kind": "percent", "rate": "0.10",
		"volume_tiers": []map[string]any{{"from_count": 11, "rate": "0.20"}}, "effective_from": "2026-01-01T00:00:00Z"}), 201)
	s.partner = must(t, send(t, lb, "POST", "/v1/applications", "", map[string]any{"program_id": s.program, "name": "Cy " + run, "email": "cy." + run + "@creator.example",
		"company": "Cy Media " + run, "website_domain": "creator-" + run + ".example", "partner_type": "creator"}), 201).str("id")
	key := must(t, send(t, lb, "POST", "/v1/partners/"+s.partner+"/approve", s.manager, map[string]any{}), 200).str("api_key")
	must(t, send(t, lb, "POST", "/v1/me/agreement", key, map[string]any{"version": "v1"}), 200)
	eventuallyTrue(t, "the partner active", 30*time.Second, func() bool {
		return send(t, lb, "GET", "/v1/me", key, nil).str("status") == "active"
	})
	s.link = must(t, send(t, lb, "POST", "/v1/links", key, map[string]any{"destination": "https://shop.example/" + run}), 201).str("code")
	s.coupon = "CY" + strings.ToUpper(run)
	must(t, send(t, lb, "POST", "/v1/coupons", s.manager, map[string]any{"partner_id": s.partner, "code": s.coupon}), 201)
	return s
}

func eventuallyTrue(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, within)
	return 0
}

func TestCluster(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	s := newAffiliate(t, c)

	// Each replica and the balancer, over plain HTTP and TLS, are ready.
	t.Run("balancer and replicas ready", func(t *testing.T) {
		for _, base := range append([]string{lb}, replicas...) {
			must(t, send(t, base, "GET", "/readyz", "", nil), 200)
		}
		tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: insecureTLS()}
		resp, err := tlsClient.Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", clusterHTTPSPort))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("TLS at the balancer: %v %v", err, resp)
		}
		resp.Body.Close()
	})

	// The Temporal frontend speaks only mTLS: without a client certificate of
	// the cluster's CA it refuses; the processes' certificate is served.
	t.Run("Temporal only over mTLS", func(t *testing.T) {
		tlsDir := filepath.Join(c.dataDir, "cluster", "tls")
		check := func(opts client.ConnectionOptions) error {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			tc, err := client.DialContext(cctx, client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", clusterTemporalPort), ConnectionOptions: opts, Logger: quietLogger{}})
			if err != nil {
				return err
			}
			defer tc.Close()
			_, err = tc.CheckHealth(cctx, &client.CheckHealthRequest{})
			return err
		}
		caPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		pair, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "client.pem"), filepath.Join(tlsDir, "client-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if err := check(client.ConnectionOptions{}); err == nil {
			t.Error("a plaintext client was served")
		}
		if err := check(client.ConnectionOptions{TLS: &tls.Config{RootCAs: pool, ServerName: "localhost"}}); err == nil {
			t.Error("a TLS client without a certificate was served")
		}
		if err := check(client.ConnectionOptions{TLS: &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{pair}}}); err != nil {
			t.Errorf("the cluster's client certificate was refused: %v", err)
		}
	})

	// Wrong secrets for one key id sent to both replicas in turn: the throttle
	// counts them together (without sharing, each replica would allow 20).
	t.Run("failed authentication throttled across replicas", func(t *testing.T) {
		prefix := strings.Join(strings.Split(s.integration, "_")[:3], "_")
		refusedAt := 0
		for i := 1; i <= 40 && refusedAt == 0; i++ {
			a := send(t, replicas[i%2], "GET", "/v1/me", prefix+"_"+strings.Repeat("x", 30), nil)
			switch a.status {
			case 401:
			case 429:
				refusedAt = i
			default:
				t.Fatalf("attempt %d: %d %s", i, a.status, a.raw)
			}
		}
		if refusedAt == 0 || refusedAt > 22 {
			t.Fatalf("refused at attempt %d; want after about 20 failures in all (API_AUTH_FAILURES_PER_MINUTE)", refusedAt)
		}
		// The key's owner is served on both replicas all the while.
		for i, r := range replicas {
			must(t, send(t, r, "POST", "/v1/conversions", s.integration, map[string]any{"program_id": s.program, "external_id": fmt.Sprintf("owner-%d", i),
				"kind": "lead", "currency": "EUR", "coupon_code": s.coupon}), 201)
		}
	})

	// One key's requests through the balancer reach one replica: its burst
	// (40) is counted once, not once per replica.
	t.Run("rate limit of a key through the balancer", func(t *testing.T) {
		key := must(t, send(t, lb, "POST", "/v1/keys", c.admin, map[string]any{"role": "manager"}), 201).str("key")
		ok, limited := 0, 0
		for range 100 {
			switch a := send(t, lb, "GET", "/v1/programs", key, nil); a.status {
			case 200:
				ok++
			case 429:
				limited++
			default:
				t.Fatalf("%d %s", a.status, a.raw)
			}
		}
		if ok > 60 || limited == 0 {
			t.Fatalf("%d answered, %d limited: the burst of 40 was counted per replica", ok, limited)
		}
	})

	// Thirty sales of one partner in one month, sent at once to both replicas:
	// exactly ten at 10 % and twenty at 20 %.
	t.Run("volume tiers count each sale once across replicas", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 30)
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := send(t, replicas[i%2], "POST", "/v1/conversions", s.integration, map[string]any{"program_id": s.program, "external_id": fmt.Sprintf("tier-%d", i),
					"kind": "sale", "amount": "100.00", "currency": "EUR", "coupon_code": s.coupon})
				if a.status != 201 {
					errs <- fmt.Sprintf("%d %s", a.status, a.raw)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
		rows, err := c.pool.Query(ctx, "SELECT amount::text FROM commission_lines WHERE partner_id = $1 AND kind = 'commission'", uuid.MustParse(s.partner))
		if err != nil {
			t.Fatal(err)
		}
		amounts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		at10, at20 := 0, 0
		for _, a := range amounts {
			switch d := decimal.RequireFromString(a); {
			case d.Equal(decimal.RequireFromString("10.00")):
				at10++
			case d.Equal(decimal.RequireFromString("20.00")):
				at20++
			}
		}
		if at10 != 10 || at20 != 20 {
			t.Fatalf("%d lines at 10 %%, %d at 20 %% (of %d): want 10 and 20", at10, at20, len(amounts))
		}
	})

	// A link disabled through one replica stops redirecting on the other
	// within the link cache's refresh (2 s; docs/production.md).
	t.Run("a disabled link stops on every replica", func(t *testing.T) {
		run := uuid.NewString()[:8]
		partnerKey := must(t, send(t, lb, "POST", "/v1/keys", c.admin, map[string]any{"role": "partner", "partner_id": s.partner}), 201).str("key")
		a := must(t, send(t, replicas[0], "POST", "/v1/links", partnerKey, map[string]any{"destination": "https://shop.example/x/" + run}), 201)
		code, id := a.str("code"), a.str("id")
		eventuallyTrue(t, "the new link redirects on the other replica", 10*time.Second, func() bool {
			return send(t, replicas[1], "GET", "/c/"+code, "", nil, "User-Agent", "Mozilla/5.0 Firefox/128.0").status == http.StatusFound
		})
		if a := send(t, replicas[0], "DELETE", "/v1/links/"+id, partnerKey, nil); a.status != 200 && a.status != 204 {
			t.Fatalf("disable: %d %s", a.status, a.raw)
		}
		took := eventuallyTrue(t, "the disabled link stops on the other replica", 10*time.Second, func() bool {
			return send(t, replicas[1], "GET", "/c/"+code, "", nil, "User-Agent", "Mozilla/5.0 Firefox/128.0").status != http.StatusFound
		})
		t.Logf("the other replica stopped redirecting after %s", took.Round(time.Millisecond))
	})

	// Approve and reject the same application at once, through both replicas:
	// one decision wins, the other is told it lost; the same decision retried
	// with its Idempotency-Key on the other replica gets the same answer.
	t.Run("concurrent decisions through different replicas", func(t *testing.T) {
		run := uuid.NewString()[:8]
		id := must(t, send(t, lb, "POST", "/v1/applications", "", map[string]any{"program_id": s.program, "name": "Di " + run, "email": "di." + run + "@creator.example",
			"company": "Di " + run, "website_domain": "di-" + run + ".example", "partner_type": "creator"}), 201).str("id")
		var approve, reject answer
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			approve = send(t, replicas[0], "POST", "/v1/partners/"+id+"/approve", s.manager, map[string]any{}, "Idempotency-Key", "approve-"+run)
		}()
		go func() {
			defer wg.Done()
			reject = send(t, replicas[1], "POST", "/v1/partners/"+id+"/reject", s.manager, map[string]any{"reason": "not a fit"})
		}()
		wg.Wait()
		wins := 0
		for _, a := range []answer{approve, reject} {
			switch a.status {
			case 200:
				wins++
			case 409:
			default:
				t.Fatalf("decision answered %d: %s", a.status, a.raw)
			}
		}
		if wins != 1 {
			t.Fatalf("approve %d, reject %d: want exactly one decision", approve.status, reject.status)
		}
		again := send(t, replicas[1], "POST", "/v1/partners/"+id+"/approve", s.manager, map[string]any{}, "Idempotency-Key", "approve-"+run)
		if again.status != approve.status || (approve.status == 200 && again.str("api_key") != approve.str("api_key")) {
			t.Fatalf("the retried approval answered %d %s; the first %d %s", again.status, again.raw, approve.status, approve.raw)
		}
	})

	// Clicks and conversions flow through the balancer while every API
	// replica and then every worker restarts: no request fails, every click
	// answered is stored, every conversion answered 201 is recorded, and an
	// onboarding started before is decided after.
	t.Run("rolling restart under load", func(t *testing.T) {
		run := uuid.NewString()[:8]
		applied := must(t, send(t, lb, "POST", "/v1/applications", "", map[string]any{"program_id": s.program, "name": "Ro " + run, "email": "ro." + run + "@creator.example",
			"company": "Ro " + run, "website_domain": "ro-" + run + ".example", "partner_type": "creator"}), 201).str("id")
		underLoad(t, c, s, "roll-"+run, func() {
			if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			c.waitLine(t, "rolling restart finished", 5*time.Minute)
		})
		if a := must(t, send(t, lb, "POST", "/v1/partners/"+applied+"/approve", s.manager, map[string]any{}), 200); a.str("status") != "awaiting_agreement" {
			t.Fatalf("approved after the restart: %s", a.raw)
		}
	})
}

// underLoad runs during() while four clients click and one posts conversions
// through the balancer, then checks that no request failed, every click
// answered was stored and every conversion answered 201 was recorded.
func underLoad(t *testing.T, c *clusterUnderTest, s affiliateSetup, prefix string, during func()) {
	t.Helper()
	ctx := context.Background()
	var clicks, conversions, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	fail := func(what string) {
		failures.Add(1)
		firstFailure.CompareAndSwap(nil, what)
		time.Sleep(20 * time.Millisecond)
	}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", lb+"/c/"+s.link, nil)
				req.Header.Set("User-Agent", fmt.Sprintf("Mozilla/5.0 Firefox/128.0 %s-%d-%d", prefix, g, i))
				resp, err := httpc.Do(req)
				if err != nil {
					fail("click: " + err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					fail(fmt.Sprintf("click answered %d", resp.StatusCode))
					continue
				}
				clicks.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b, _ := json.Marshal(map[string]any{"program_id": s.program, "external_id": fmt.Sprintf("%s-%d", prefix, i), "kind": "lead", "currency": "EUR", "coupon_code": s.coupon})
			req, _ := http.NewRequest("POST", lb+"/v1/conversions", bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+s.integration)
			resp, err := httpc.Do(req)
			if err != nil {
				fail("conversion: " + err.Error())
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				fail(fmt.Sprintf("conversion answered %d: %s", resp.StatusCode, body))
				continue
			}
			conversions.Add(1)
			time.Sleep(40 * time.Millisecond) // 25 a second: below the key's limit
		}
	}()
	time.Sleep(2 * time.Second)
	during()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed; the first: %v", n, firstFailure.Load())
	}
	var stored, recorded int64
	eventuallyTrue(t, "every answered click stored", 30*time.Second, func() bool {
		_ = c.pool.QueryRow(ctx, "SELECT count(*) FROM clicks WHERE link_id = (SELECT id FROM links WHERE code = $1) AND user_agent LIKE '% '||$2||'-%'", s.link, prefix).Scan(&stored)
		return stored == clicks.Load()
	})
	if err := c.pool.QueryRow(ctx, "SELECT count(*) FROM conversions WHERE program_id = $1 AND external_id LIKE $2||'-%'", uuid.MustParse(s.program), prefix).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != conversions.Load() {
		t.Fatalf("%d conversions answered 201, %d recorded", conversions.Load(), recorded)
	}
	if clicks.Load() < 100 || conversions.Load() < 20 {
		t.Fatalf("too little load to mean anything: %d clicks, %d conversions", clicks.Load(), conversions.Load())
	}
	t.Logf("under load: %d clicks stored = answered, %d conversions recorded = answered, %d failed", stored, recorded, failures.Load())
}

// A rolling deploy from the previous commit's build to this one, with this
// one's migrations applied in between while the previous build serves: no
// request fails, nothing answered is lost, and every replica answers with the
// new build afterwards.
func TestClusterRollingDeploy(t *testing.T) {
	prev, next := os.Getenv("PARTNEROPS_PREVIOUS"), os.Getenv("PARTNEROPS")
	if prev == "" || next == "" {
		t.Fatal("PARTNEROPS_PREVIOUS (the previous commit's build) and PARTNEROPS (this one's) must be set: make test-cluster builds both")
	}
	// The cluster runs from a path whose binary is swapped, as a deploy does.
	bin := filepath.Join(t.TempDir(), "partnerops")
	copyFile(t, prev, bin)
	c := startClusterFrom(t, bin)
	s := newAffiliate(t, c)
	versionOf := func(base string) string { return send(t, base, "GET", "/healthz", "", nil).str("version") }
	before := versionOf(replicas[0])
	want := strings.TrimSpace(runOut(t, next, "version"))
	underLoad(t, c, s, "deploy", func() {
		migrate := exec.Command(next, "migrate")
		migrate.Env = append(os.Environ(), "DATABASE_URL="+c.dbURL)
		if out, err := migrate.CombinedOutput(); err != nil {
			t.Fatalf("migrate with the new build: %v: %s", err, out)
		}
		time.Sleep(2 * time.Second) // the previous build serves on the new schema
		copyFile(t, next, bin+".new")
		if err := os.Rename(bin+".new", bin); err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		c.waitLine(t, "rolling restart finished", 5*time.Minute)
	})
	for _, r := range replicas {
		if v := versionOf(r); !strings.Contains(want, v) || v == "" {
			t.Errorf("%s answers build %q after the deploy; want %q (before: %q)", r, v, want, before)
		}
	}
	t.Logf("deployed %s → %s", before, want)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func runOut(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// insecureTLS trusts the cluster's self-signed local certificate.
func insecureTLS() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the local certificate
}
