package wssverify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxBodyBytes bounds what the middleware buffers before the signature is checked.
const DefaultMaxBodyBytes int64 = 1 << 20

// MiddlewareOptions configure Middleware. Zero values mean the defaults.
type MiddlewareOptions struct {
	Options
	// MaxBodyBytes is the largest body read; larger requests get 413. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Middleware verifies X-WSS-Signature over the raw body before calling next, then restores r.Body so next reads
// the same bytes. Rejected requests get 401 with {"error":"invalid_signature","reason":...} and never reach next.
//
// It panics if secret is empty, so a missing configuration fails at start-up rather than per request.
func Middleware(secret string, opts MiddlewareOptions, next http.Handler) http.Handler {
	if secret == "" {
		panic("wssverify.Middleware: secret must not be empty")
	}
	limit := opts.MaxBodyBytes
	if limit == 0 {
		limit = DefaultMaxBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body_too_large"})
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unreadable_body"})
			return
		}
		// Header.Get returns only the first value; joining keeps a split rotation header intact.
		v := Verify(secret, joinHeader(r.Header, TimestampHeader), joinHeader(r.Header, SignatureHeader), body, opts.Options)
		if !v.Valid {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_signature", "reason": string(v.Reason)})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

func joinHeader(h http.Header, name string) string {
	return strings.Join(h.Values(name), ",")
}

func writeJSON(w http.ResponseWriter, status int, body map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
