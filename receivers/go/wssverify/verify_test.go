package wssverify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type vector struct {
	Name             string `json:"name"`
	Secret           string `json:"secret"`
	TimestampHeader  string `json:"timestampHeader"`
	BodyBase64       string `json:"bodyBase64"`
	SignatureHeader  string `json:"signatureHeader"`
	Now              int64  `json:"now"`
	ToleranceSeconds int64  `json:"toleranceSeconds"`
	Expected         struct {
		Valid  bool   `json:"valid"`
		Reason string `json:"reason"`
	} `json:"expected"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "test", "vectors", "signatures.json"))
	if err != nil {
		t.Fatalf("reading shared vectors: %v", err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("parsing shared vectors: %v", err)
	}
	if len(file.Vectors) < 20 {
		t.Fatalf("expected the full vector set, got %d", len(file.Vectors))
	}
	return file.Vectors
}

func TestSharedVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			body, err := base64.StdEncoding.DecodeString(v.BodyBase64)
			if err != nil {
				t.Fatal(err)
			}
			got := Verify(v.Secret, v.TimestampHeader, v.SignatureHeader, body, Options{
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

func sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestEmptySecretRejectsEverything(t *testing.T) {
	got := Verify("", "100", sign("", "100", []byte("b")), []byte("b"), Options{Now: func() time.Time { return time.Unix(100, 0) }})
	if got.Reason != ReasonBadSignature {
		t.Fatalf("got %+v", got)
	}
}

func TestMiddleware(t *testing.T) {
	const secret = "wss_go_middleware_test"
	now := time.Unix(1_700_000_000, 0)
	body := []byte("{\"id\":\"evt_1\"}\r\n\xff")
	ts := strconv.FormatInt(now.Unix(), 10)

	var seen []byte
	handler := Middleware(secret, MiddlewareOptions{
		Options:      Options{Now: func() time.Time { return now }},
		MaxBodyBytes: 1024,
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		seen, err = io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading restored body: %v", err)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	server := httptest.NewServer(handler)
	defer server.Close()

	post := func(t *testing.T, payload []byte, headers map[string][]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, server.URL, strings.NewReader(string(payload)))
		if err != nil {
			t.Fatal(err)
		}
		for name, values := range headers {
			for _, v := range values {
				req.Header.Add(name, v)
			}
		}
		res, err := server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}

	t.Run("passes a valid request through with the body restored", func(t *testing.T) {
		seen = nil
		res := post(t, body, map[string][]string{TimestampHeader: {ts}, SignatureHeader: {sign(secret, ts, body)}})
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d", res.StatusCode)
		}
		if string(seen) != string(body) {
			t.Fatalf("handler saw %q, want %q", seen, body)
		}
	})

	t.Run("accepts a rotation header split across two header lines", func(t *testing.T) {
		res := post(t, body, map[string][]string{
			TimestampHeader: {ts},
			SignatureHeader: {sign("wss_other", ts, body), sign(secret, ts, body)},
		})
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d", res.StatusCode)
		}
	})

	t.Run("rejects a tampered body with 401 and the reason", func(t *testing.T) {
		seen = nil
		res := post(t, append([]byte("x"), body...), map[string][]string{TimestampHeader: {ts}, SignatureHeader: {sign(secret, ts, body)}})
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", res.StatusCode)
		}
		var got map[string]string
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got["reason"] != string(ReasonBadSignature) || seen != nil {
			t.Fatalf("got %v, handler saw %q", got, seen)
		}
	})

	t.Run("rejects a body over the limit with 413", func(t *testing.T) {
		big := make([]byte, 2048)
		res := post(t, big, map[string][]string{TimestampHeader: {ts}, SignatureHeader: {sign(secret, ts, big)}})
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}

func TestMiddlewarePanicsWithoutSecret(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("expected a panic for an empty secret")
		}
	}()
	Middleware("", MiddlewareOptions{}, http.NotFoundHandler())
}
