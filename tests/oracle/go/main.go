// Command oracle verifies x509-limbo cases (JSON Lines, see
// testdata/limbo/extract.py) with Go's crypto/x509 and prints one JSON line
// per case: {"id": ..., "accept": bool, "error": "..."}.
//
// Build (offline, standard library only):
//
//	cd tests/oracle/go && GOFLAGS=-mod=mod GOPATH=/tmp/gopath GOCACHE=/tmp/gocache \
//	    /usr/lib/go-1.19/bin/go build -o /tmp/oracle-go .
//	/tmp/oracle-go < testdata/limbo/server-cases.jsonl
package main

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

type testCase struct {
	ID            string   `json:"id"`
	Leaf          string   `json:"leaf"`
	Intermediates []string `json:"intermediates"`
	Roots         []string `json:"roots"`
	PeerName      *string  `json:"peer_name"`
	PeerKind      *string  `json:"peer_kind"`
	Time          string   `json:"time"`
}

type result struct {
	ID     string `json:"id"`
	Accept bool   `json:"accept"`
	Error  string `json:"error"`
}

// parsePEM decodes a single PEM CERTIFICATE block and parses it.
func parsePEM(s string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("unexpected PEM block type %q", block.Type)
	}
	return x509.ParseCertificate(block.Bytes)
}

func verify(tc *testCase) (res result) {
	res.ID = tc.ID
	defer func() {
		// Never let one malformed case take the whole run down.
		if r := recover(); r != nil {
			res.Accept = false
			res.Error = fmt.Sprintf("panic: %v", r)
		}
	}()

	leaf, err := parsePEM(tc.Leaf)
	if err != nil {
		res.Error = "leaf: " + err.Error()
		return
	}
	inters := x509.NewCertPool()
	for i, p := range tc.Intermediates {
		c, err := parsePEM(p)
		if err != nil {
			res.Error = fmt.Sprintf("intermediate %d: %v", i, err)
			return
		}
		inters.AddCert(c)
	}
	roots := x509.NewCertPool()
	for _, p := range tc.Roots {
		c, err := parsePEM(p)
		if err != nil {
			continue // unparsable roots are skipped
		}
		roots.AddCert(c)
	}
	t, err := time.Parse(time.RFC3339Nano, tc.Time)
	if err != nil {
		res.Error = "bad time: " + err.Error()
		return
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inters,
		CurrentTime:   t,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	// For IP peers Go matches DNSName against IP SANs when it parses as an IP.
	if tc.PeerName != nil {
		opts.DNSName = *tc.PeerName
	}
	if _, err := leaf.Verify(opts); err != nil {
		res.Error = err.Error()
		return
	}
	res.Accept = true
	return
}

func main() {
	r := bufio.NewReaderSize(os.Stdin, 1<<20)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && !(len(line) == 1 && line[0] == '\n') {
			var tc testCase
			if jerr := json.Unmarshal(line, &tc); jerr != nil {
				fmt.Fprintf(os.Stderr, "oracle: bad input line: %v\n", jerr)
				os.Exit(2)
			}
			if eerr := enc.Encode(verify(&tc)); eerr != nil {
				fmt.Fprintf(os.Stderr, "oracle: write: %v\n", eerr)
				os.Exit(2)
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "oracle: read: %v\n", err)
			os.Exit(2)
		}
	}
}
