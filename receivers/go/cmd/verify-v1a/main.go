// Command verify-v1a verifies one captured request's v1a signature with a JWKS fetched from its URL, and prints the
// verdict as JSON. The integration tests feed it real deliveries; it also shows the JWKSCache in use.
//
// Input on stdin: {"jwksUrl", "id", "timestamp", "signature", "kid" (null: absent), "bodyBase64"}.
// Output: {"valid": bool, "reason": string}. Exit status 2 when the JWKS cannot be fetched or the input is bad.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"github.com/wss/receivers-go/wssverify"
)

type input struct {
	JWKSURL    string  `json:"jwksUrl"`
	ID         string  `json:"id"`
	Timestamp  string  `json:"timestamp"`
	Signature  string  `json:"signature"`
	Kid        *string `json:"kid"`
	BodyBase64 string  `json:"bodyBase64"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "bad input:", err)
		os.Exit(2)
	}
	body, err := base64.StdEncoding.DecodeString(in.BodyBase64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad bodyBase64:", err)
		os.Exit(2)
	}
	req := wssverify.V1aRequest{ID: in.ID, Timestamp: in.Timestamp, Signature: in.Signature, Body: body}
	if in.Kid != nil {
		req.Kid = *in.Kid
	}
	verdict, err := wssverify.NewJWKSCache(in.JWKSURL).Verify(context.Background(), req, wssverify.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out, _ := json.Marshal(map[string]any{"valid": verdict.Valid, "reason": verdict.Reason})
	fmt.Println(string(out))
}
