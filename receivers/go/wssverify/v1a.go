package wssverify

// Standard Webhooks v1a: ed25519 signatures over "{webhook-id}.{webhook-timestamp}.{body}", verified with the
// sender's public keys (a JWKS, RFC 7517; OKP keys per RFC 8037). Standard library only (crypto/ed25519).

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ReasonUnknownKey: no v1a entry had a key of the JWKS to check it with. Refetch the JWKS (JWKSCache does) before
// giving up: the sender may have rotated.
const ReasonUnknownKey Reason = "unknown_key"

// Header names of the Standard Webhooks scheme, and the kid list this service adds.
const (
	WebhookIDHeader        = "webhook-id"
	WebhookTimestampHeader = "webhook-timestamp"
	WebhookSignatureHeader = "webhook-signature"
	// WebhookSignatureKidHeader holds the kid of each v1a entry of webhook-signature, space-separated, in order.
	WebhookSignatureKidHeader = "webhook-signature-kid"
)

// JWK is one key of a JWK set; only kty "OKP", crv "Ed25519" keys are used, others are ignored.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKS is a JWK set, as served at GET /v1/tenants/{tenantId}/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// V1aRequest holds the parts of a request a v1a verification reads.
type V1aRequest struct {
	ID        string // webhook-id
	Timestamp string // webhook-timestamp
	Signature string // webhook-signature
	Kid       string // webhook-signature-kid; "" means absent: every key of the JWKS is tried
	Body      []byte // the raw body
}

// V1aRequestFromHTTP reads the headers of r; the body must be read by the caller (raw bytes, before any parsing).
func V1aRequestFromHTTP(h http.Header, body []byte) V1aRequest {
	return V1aRequest{
		ID:        h.Get(WebhookIDHeader),
		Timestamp: h.Get(WebhookTimestampHeader),
		Signature: h.Get(WebhookSignatureHeader),
		Kid:       h.Get(WebhookSignatureKidHeader),
		Body:      body,
	}
}

type usableKey struct {
	kid string
	key ed25519.PublicKey
}

// VerifyV1a checks the v1a signatures of a request against jwks. It never panics on bad input. Checks run in the
// order timestamp syntax, tolerance, signature entries, keys, signatures, so the reason names the first thing wrong.
func VerifyV1a(jwks JWKS, req V1aRequest, opts Options) Verdict {
	if !isDigits(req.Timestamp) {
		return verdict(ReasonBadTimestamp)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	tolerance := opts.Tolerance
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if !withinTolerance(req.Timestamp, now().Unix(), int64(tolerance/time.Second)) {
		return verdict(ReasonTimestampOutOfTolerance)
	}

	// Kids pair with v1a entries by position, malformed entries included, so one bad entry cannot shift the rest.
	var kids []string
	for _, k := range strings.Split(req.Kid, " ") {
		if k != "" {
			kids = append(kids, k)
		}
	}
	type entry struct {
		sig    []byte
		kid    string
		anyKid bool
	}
	var checkable []entry
	index := 0
	for _, e := range strings.Split(req.Signature, " ") {
		if !strings.HasPrefix(e, "v1a,") {
			continue
		}
		i := index
		index++
		sig, ok := decodeSignature(e[4:])
		if !ok {
			continue
		}
		if len(kids) > 0 && i < len(kids) {
			checkable = append(checkable, entry{sig: sig, kid: kids[i]})
		} else {
			checkable = append(checkable, entry{sig: sig, anyKid: true})
		}
	}
	if len(checkable) == 0 {
		return verdict(ReasonMalformedSignature)
	}

	keys := usableKeys(jwks)
	content := append([]byte(req.ID+"."+req.Timestamp+"."), req.Body...)
	anyKey := false
	for _, e := range checkable {
		for _, k := range keys {
			if !e.anyKid && k.kid != e.kid {
				continue
			}
			anyKey = true
			if ed25519.Verify(k.key, content, e.sig) {
				return verdict(ReasonOK)
			}
		}
	}
	if anyKey {
		return verdict(ReasonBadSignature)
	}
	return verdict(ReasonUnknownKey)
}

// decodeSignature accepts exactly 64 bytes in standard, padded base64 (86 characters and "==").
func decodeSignature(s string) ([]byte, bool) {
	if len(s) != 88 || !strings.HasSuffix(s, "==") {
		return nil, false
	}
	for i := 0; i < 86; i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, false
		}
	}
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, false
	}
	return sig, true
}

func usableKeys(jwks JWKS) []usableKey {
	var out []usableKey
	for _, k := range jwks.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || len(k.X) != 43 {
			continue
		}
		if (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			continue
		}
		out = append(out, usableKey{kid: k.Kid, key: ed25519.PublicKey(raw)})
	}
	return out
}

// ErrJWKSUnavailable: the JWKS could not be fetched and no earlier copy is held. Answer 5xx so the sender retries.
var ErrJWKSUnavailable = errors.New("JWKS unavailable")

const maxJWKSBytes = 64 << 10

// JWKSCache fetches and caches a sender's JWKS and verifies v1a requests with it. Safe for concurrent use.
//
// The set is refetched after TTL, and early when a request names a key the cached set lacks (the sender rotated),
// at most once per MinRefresh. When a refetch fails the previous set is kept. Pin the URL in your configuration:
// never take it, or a key, from the request.
type JWKSCache struct {
	URL        string
	TTL        time.Duration // default 5 minutes
	MinRefresh time.Duration // default 30 seconds
	Client     *http.Client  // default: a client with a 5 s timeout that follows no redirects
	Clock      func() time.Time

	mu        sync.Mutex
	jwks      *JWKS
	fetchedAt time.Time
}

// NewJWKSCache returns a cache for url with the default TTL, minimum refresh interval and client.
func NewJWKSCache(url string) *JWKSCache {
	return &JWKSCache{URL: url}
}

func (c *JWKSCache) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

func (c *JWKSCache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return 5 * time.Minute
}

func (c *JWKSCache) minRefresh() time.Duration {
	if c.MinRefresh > 0 {
		return c.MinRefresh
	}
	return 30 * time.Second
}

// Keys returns the JWKS, fetched when none is held or the held one is older than the TTL.
func (c *JWKSCache) Keys(ctx context.Context) (JWKS, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jwks != nil && c.now().Sub(c.fetchedAt) < c.ttl() {
		return *c.jwks, nil
	}
	return c.refreshLocked(ctx)
}

// Verify checks a request (see VerifyV1a); on ReasonUnknownKey it refetches once (rate-limited) and checks again.
// The error is ErrJWKSUnavailable (wrapped) when no JWKS could ever be fetched.
func (c *JWKSCache) Verify(ctx context.Context, req V1aRequest, opts Options) (Verdict, error) {
	jwks, err := c.Keys(ctx)
	if err != nil {
		return Verdict{}, err
	}
	first := VerifyV1a(jwks, req, opts)
	if first.Reason != ReasonUnknownKey {
		return first, nil
	}
	c.mu.Lock()
	if c.jwks != nil && c.now().Sub(c.fetchedAt) < c.minRefresh() {
		c.mu.Unlock()
		return first, nil
	}
	jwks, err = c.refreshLocked(ctx)
	c.mu.Unlock()
	if err != nil {
		return Verdict{}, err
	}
	return VerifyV1a(jwks, req, opts), nil
}

func (c *JWKSCache) refreshLocked(ctx context.Context) (JWKS, error) {
	jwks, err := c.fetch(ctx)
	if err == nil {
		c.jwks = &jwks
		c.fetchedAt = c.now()
		return jwks, nil
	}
	if c.jwks != nil {
		// Keep verifying with the keys held; try again after the minimum interval.
		if retry := c.now().Add(-c.ttl()).Add(c.minRefresh()); retry.After(c.fetchedAt) {
			c.fetchedAt = retry
		}
		return *c.jwks, nil
	}
	return JWKS{}, fmt.Errorf("%w: fetching %s: %v", ErrJWKSUnavailable, c.URL, err)
}

func (c *JWKSCache) fetch(ctx context.Context) (JWKS, error) {
	client := c.Client
	if client == nil {
		client = &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return JWKS{}, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	res, err := client.Do(req)
	if err != nil {
		return JWKS{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return JWKS{}, fmt.Errorf("status %d", res.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return JWKS{}, err
	}
	if len(raw) > maxJWKSBytes {
		return JWKS{}, errors.New("JWKS too large")
	}
	var jwks JWKS
	if err := json.Unmarshal(raw, &jwks); err != nil {
		return JWKS{}, err
	}
	if jwks.Keys == nil {
		return JWKS{}, errors.New("not a JWK set")
	}
	return jwks, nil
}
