// Package wssverify verifies X-WSS-Signature webhook signatures using only the standard library.
//
// The signature is lowercase hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, over the X-WSS-Timestamp
// header's digits immediately followed by the raw body bytes. During a secret rotation the header carries several
// comma-separated signatures; any one matching is enough.
package wssverify

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Reason codes are shared with the TypeScript and Python kits and the test vectors.
type Reason string

const (
	ReasonOK                      Reason = "ok"
	ReasonBadSignature            Reason = "bad_signature"
	ReasonBadTimestamp            Reason = "bad_timestamp"
	ReasonTimestampOutOfTolerance Reason = "timestamp_out_of_tolerance"
	ReasonMalformedSignature      Reason = "malformed_signature"
)

const (
	// DefaultTolerance is the allowed clock difference, either way, when Options.Tolerance is zero.
	DefaultTolerance = 300 * time.Second
	TimestampHeader  = "X-WSS-Timestamp"
	SignatureHeader  = "X-WSS-Signature"
)

// Verdict is the outcome of a verification.
type Verdict struct {
	Valid  bool
	Reason Reason
}

// Options configure Verify. Zero values mean: system clock, DefaultTolerance.
type Options struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Tolerance is the allowed clock difference either way; 0 means DefaultTolerance.
	Tolerance time.Duration
}

// Verify checks one request. It never panics on bad input. Checks run in the order timestamp syntax, tolerance,
// signature, so the reason names the first thing wrong. Signature entries must be exactly 64 lowercase hex digits;
// others (uppercase, wrong length) are skipped, and if none is well formed the reason is ReasonMalformedSignature.
//
// secret is the endpoint secret exactly as shown by the sender; body is the raw request body.
func Verify(secret, timestampHeader, signatureHeader string, body []byte, opts Options) Verdict {
	if !isDigits(timestampHeader) {
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
	if !withinTolerance(timestampHeader, now().Unix(), int64(tolerance/time.Second)) {
		return verdict(ReasonTimestampOutOfTolerance)
	}

	var wellFormed []string
	for _, candidate := range strings.Split(signatureHeader, ",") {
		candidate = strings.Trim(candidate, " \t")
		if isLowerHexSHA256(candidate) {
			wellFormed = append(wellFormed, candidate)
		}
	}
	if len(wellFormed) == 0 {
		return verdict(ReasonMalformedSignature)
	}
	// An empty key is a configuration mistake anyone could sign with; fail closed.
	if secret == "" {
		return verdict(ReasonBadSignature)
	}

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestampHeader))
	mac.Write(body)
	expected := []byte(hex.EncodeToString(mac.Sum(nil)))
	// Compare every entry so timing does not reveal which one matched.
	matched := 0
	for _, candidate := range wellFormed {
		matched |= subtle.ConstantTimeCompare([]byte(candidate), expected)
	}
	if matched == 1 {
		return verdict(ReasonOK)
	}
	return verdict(ReasonBadSignature)
}

// isDigits is deliberately a byte loop: strconv.ParseInt accepts a leading sign (and underscores with base 0), and
// the digits are signed bytes, so a lenient parse would let the timestamp/body boundary move.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func withinTolerance(digits string, now, toleranceSeconds int64) bool {
	ts, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		// Only overflow is possible after isDigits; such a timestamp is far outside any window.
		return false
	}
	diff := now - ts
	if diff < 0 {
		diff = -diff
	}
	// diff stays negative only if the subtraction overflowed (an absurd injected clock); treat that as outside.
	return diff >= 0 && diff <= toleranceSeconds
}

func isLowerHexSHA256(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func verdict(reason Reason) Verdict {
	return Verdict{Valid: reason == ReasonOK, Reason: reason}
}
