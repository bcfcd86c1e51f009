package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets come from the environment or from files (NAME_FILE, a mounted
// secret); both at once is refused.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("DATABASE_URL", "")
	t.Setenv("DATABASE_URL_FILE", write("db", "postgres://app:s3cret@db.internal:5432/partnerops\n"))
	t.Setenv("PAYMENTS_WEBHOOK_SECRET", "")
	t.Setenv("PAYMENTS_WEBHOOK_SECRET_FILE", write("whsec", " whsec_from_file \n"))
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != "postgres://app:s3cret@db.internal:5432/partnerops" || string(cfg.API.PaymentsWebhookSecret) != "whsec_from_file" {
		t.Fatalf("read %q and %q", cfg.DatabaseURL, cfg.API.PaymentsWebhookSecret)
	}
	t.Setenv("PAYMENTS_API_KEY", "in-env")
	t.Setenv("PAYMENTS_API_KEY_FILE", write("pay", "in-file"))
	if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), "PAYMENTS_API_KEY and PAYMENTS_API_KEY_FILE") {
		t.Fatalf("both set: %v", err)
	}
	t.Setenv("PAYMENTS_API_KEY", "")
	t.Setenv("PAYMENTS_API_KEY_FILE", filepath.Join(dir, "missing"))
	if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), "PAYMENTS_API_KEY_FILE") {
		t.Fatalf("a missing file: %v", err)
	}
}
