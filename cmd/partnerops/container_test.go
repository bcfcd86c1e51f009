//go:build e2e

package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The binary as the container runs it: an unprivileged user, an empty directory
// it cannot write to, keys and connections from the documented environment —
// it serves /readyz.
func TestServeAsAnUnprivilegedUserInAnEmptyDirectory(t *testing.T) {
	dir, err := os.MkdirTemp("", "partnerops-container-") // t.TempDir's parent is private to us
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "partnerops")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var ln net.Listener
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil { // owned by the test's user: not writable by nobody
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := mln.Addr().String()
	mln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = empty
	cmd.Env = []string{"PATH=/usr/bin:/bin", "DATABASE_URL=" + sys.dbURL, "TEMPORAL_ADDRESS=" + sys.temporalAddress, "HTTP_ADDR=" + addr, "METRICS_ADDR=" + metricsAddr,
		"CLICK_TOKEN_KEY=container-test-click-token-key-0123456789", "IP_HASH_KEY=container-test-ip-hash-key-0123456789ab"}
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}} // nobody
	}
	out, _ := os.CreateTemp(dir, "log")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _, _ = cmd.Process.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(out.Name())
			t.Fatalf("no ready answer from the unprivileged server (%v):\n%s", err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Its /metrics gathers (one collector per pool, the SDK's metrics beside), on
	// its own listener: the public port does not serve it.
	if resp, err := http.Get("http://" + addr + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the public port: %v %v", resp, err)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `partnerops_db_pool_connections{pool="api",state="max"}`) {
		t.Fatalf("/metrics: %d %.300s", resp.StatusCode, body)
	}
	// The container's health check: the binary's own `health` command.
	if out, err := exec.Command(bin, "health", "http://"+addr+"/readyz").CombinedOutput(); err != nil {
		t.Fatalf("health of a ready server: %v %s", err, out)
	}
	if out, err := exec.Command(bin, "health", "http://"+addr+"/nowhere").CombinedOutput(); err == nil {
		t.Fatalf("health of a 404 succeeded: %s", out)
	}
	entries, _ := os.ReadDir(empty)
	if len(entries) != 0 {
		t.Fatalf("the server wrote into its working directory: %v", entries)
	}
}
