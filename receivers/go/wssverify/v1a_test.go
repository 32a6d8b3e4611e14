package wssverify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type v1aVector struct {
	Name             string  `json:"name"`
	JWKS             JWKS    `json:"jwks"`
	ID               string  `json:"id"`
	TimestampHeader  string  `json:"timestampHeader"`
	SignatureHeader  string  `json:"signatureHeader"`
	KidHeader        *string `json:"kidHeader"`
	BodyBase64       string  `json:"bodyBase64"`
	Now              int64   `json:"now"`
	ToleranceSeconds int64   `json:"toleranceSeconds"`
	Expected         struct {
		Valid  bool   `json:"valid"`
		Reason string `json:"reason"`
	} `json:"expected"`
}

func loadV1aVectors(t *testing.T) []v1aVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "test", "vectors", "v1a.json"))
	if err != nil {
		t.Fatalf("reading v1a vectors: %v", err)
	}
	var file struct {
		Vectors []v1aVector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("parsing v1a vectors: %v", err)
	}
	if len(file.Vectors) < 20 {
		t.Fatalf("expected the full v1a vector set, got %d", len(file.Vectors))
	}
	return file.Vectors
}

func (v v1aVector) request(t *testing.T) V1aRequest {
	t.Helper()
	body, err := base64.StdEncoding.DecodeString(v.BodyBase64)
	if err != nil {
		t.Fatal(err)
	}
	req := V1aRequest{ID: v.ID, Timestamp: v.TimestampHeader, Signature: v.SignatureHeader, Body: body}
	if v.KidHeader != nil {
		req.Kid = *v.KidHeader
	}
	return req
}

func TestV1aSharedVectors(t *testing.T) {
	for _, v := range loadV1aVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			got := VerifyV1a(v.JWKS, v.request(t), Options{
				Now:       func() time.Time { return time.Unix(v.Now, 0) },
				Tolerance: time.Duration(v.ToleranceSeconds) * time.Second,
			})
			want := Verdict{Valid: v.Expected.Valid, Reason: Reason(v.Expected.Reason)}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

// jwksServer serves a JWKS the test changes (nil: 503) and counts requests.
type jwksServer struct {
	mu   sync.Mutex
	jwks *JWKS
	hits int
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits++
	if s.jwks == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.jwks)
}

func (s *jwksServer) set(jwks *JWKS) { s.mu.Lock(); s.jwks = jwks; s.mu.Unlock() }
func (s *jwksServer) count() int     { s.mu.Lock(); defer s.mu.Unlock(); return s.hits }

func rotationRequest(t *testing.T) (JWK, JWK, V1aRequest, Options) {
	t.Helper()
	for _, v := range loadV1aVectors(t) {
		if v.Name != "rotation: receiver holds both keys" {
			continue
		}
		req := v.request(t)
		// Only the new key's signature: a receiver holding only the old key must refetch.
		req.Signature = strings.Split(req.Signature, " ")[0]
		req.Kid = strings.Split(req.Kid, " ")[0]
		opts := Options{Now: func() time.Time { return time.Unix(v.Now, 0) }}
		return v.JWKS.Keys[0], v.JWKS.Keys[1], req, opts
	}
	t.Fatal("rotation vector missing")
	return JWK{}, JWK{}, V1aRequest{}, Options{}
}

func TestJWKSCacheRefetchesUnknownKidAtMostOncePerInterval(t *testing.T) {
	newKey, oldKey, req, opts := rotationRequest(t)
	srv := &jwksServer{jwks: &JWKS{Keys: []JWK{oldKey}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	clock := time.Unix(1_000_000, 0)
	cache := &JWKSCache{URL: ts.URL, MinRefresh: 30 * time.Second, Clock: func() time.Time { return clock }}
	ctx := context.Background()
	if _, err := cache.Keys(ctx); err != nil || srv.count() != 1 {
		t.Fatalf("first fetch: %v, hits %d", err, srv.count())
	}
	srv.set(&JWKS{Keys: []JWK{newKey, oldKey}})
	if v, _ := cache.Verify(ctx, req, opts); v.Reason != ReasonUnknownKey || srv.count() != 1 {
		t.Fatalf("within the interval: %+v, hits %d", v, srv.count())
	}
	clock = clock.Add(31 * time.Second)
	if v, _ := cache.Verify(ctx, req, opts); !v.Valid || srv.count() != 2 {
		t.Fatalf("after the interval: %+v, hits %d", v, srv.count())
	}
	if v, _ := cache.Verify(ctx, req, opts); !v.Valid || srv.count() != 2 {
		t.Fatalf("known kid: %+v, hits %d", v, srv.count())
	}
}

func TestJWKSCacheKeepsKeysWhenRefetchFails(t *testing.T) {
	newKey, _, req, opts := rotationRequest(t)
	srv := &jwksServer{jwks: &JWKS{Keys: []JWK{newKey}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	clock := time.Unix(1_000_000, 0)
	cache := &JWKSCache{URL: ts.URL, TTL: time.Minute, Clock: func() time.Time { return clock }}
	ctx := context.Background()
	if v, err := cache.Verify(ctx, req, opts); err != nil || !v.Valid {
		t.Fatalf("first: %+v %v", v, err)
	}
	srv.set(nil)
	clock = clock.Add(61 * time.Second)
	if v, err := cache.Verify(ctx, req, opts); err != nil || !v.Valid {
		t.Fatalf("sender down, keys held: %+v %v", v, err)
	}
	if _, err := NewJWKSCache(ts.URL).Keys(ctx); !errors.Is(err, ErrJWKSUnavailable) {
		t.Fatalf("no keys ever: %v", err)
	}
}
