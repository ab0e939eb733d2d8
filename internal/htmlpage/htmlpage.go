// Package htmlpage gives otpd's few HTML pages — the dev inbox and the
// SMSC simulator's listing, both of which show one-time codes — the
// response headers such a page needs, in one place.
//
// The pages are static HTML with one inline stylesheet and no script. The
// Content-Security-Policy allows exactly that stylesheet, by its SHA-256
// hash, and nothing else: no script, no other style, no images, frames,
// forms or <base>. So markup that slipped into a message's text could not
// run or load anything even if escaping failed.
package htmlpage

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// CSP returns the Content-Security-Policy of a page whose only active
// content is the inline stylesheet css (the text between <style> and
// </style>, byte for byte).
func CSP(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// SetHeaders sets the headers of an HTML page styled by the inline
// stylesheet css: its type, CSP(css), no MIME sniffing, no Referer to
// links followed from it, no framing (X-Frame-Options for browsers older
// than frame-ancestors), and no caching — it shows codes.
func SetHeaders(h http.Header, css string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP(css))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// Check reports whether a served page keeps to this package's rules: the
// headers SetHeaders sets, a CSP that allows the page's own <style>
// element (so it was not edited without its hash), and no <script>.
// Tests of the pages call it.
func Check(h http.Header, body []byte) error {
	page := string(body)
	start, end := strings.Index(page, "<style>"), strings.Index(page, "</style>")
	if start < 0 || end < start {
		return errors.New("htmlpage: the page has no <style> element")
	}
	want := http.Header{}
	SetHeaders(want, page[start+len("<style>"):end])
	for name := range want {
		if got := h.Get(name); got != want.Get(name) {
			return fmt.Errorf("htmlpage: %s is %q, want %q", name, got, want.Get(name))
		}
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		return errors.New("htmlpage: the page has a <script> element")
	}
	return nil
}
