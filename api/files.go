package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// FileStore keeps uploaded files (MDF proof of performance). Keys are the files'
// SHA-256, so storing the same content twice is harmless. Disk is the shipped
// implementation; an object store fits behind the same interface.
type FileStore interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// DiskStore keeps files under a directory.
type DiskStore struct{ Dir string }

var keyRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (d DiskStore) path(key string) (string, error) {
	if !keyRe.MatchString(key) {
		return "", fmt.Errorf("bad file key %q", key)
	}
	return filepath.Join(d.Dir, key[:2], key), nil
}

func (d DiskStore) Put(_ context.Context, key string, r io.Reader) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil // same content already stored
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

func (d DiskStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("file %s is missing from the store: %w", key, err)
	}
	return f, err
}
