package htmlpage_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/internal/htmlpage"
)

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	htmlpage.SetHeaders(h, "body{color:#222}")
	require.Equal(t, http.Header{
		"Content-Type": {"text/html; charset=utf-8"},
		// echo -n 'body{color:#222}' | openssl dgst -sha256 -binary | base64
		"Content-Security-Policy": {"default-src 'none'; style-src 'sha256-K2T2ttpovAaUEHNThEejRsNK7+YLdYviRdDeMODQ30E='; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
		"X-Content-Type-Options":  {"nosniff"},
		"Referrer-Policy":         {"no-referrer"},
		"X-Frame-Options":         {"DENY"},
		"Cache-Control":           {"no-store"},
	}, h)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	const css = "p{margin:0}"
	page := "<html><style>" + css + "</style><p>hi</p></html>"
	good := http.Header{}
	htmlpage.SetHeaders(good, css)
	require.NoError(t, htmlpage.Check(good, []byte(page)))

	tests := []struct {
		name   string
		header func(http.Header)
		page   string
		msg    string
	}{
		{"style edited", nil, "<style>p{margin:1px}</style>", "Content-Security-Policy"},
		{"no style", nil, "<p>hi</p>", "no <style>"},
		{"script", nil, "<style>" + css + "</style><SCRIPT>alert(1)</SCRIPT>", "<script>"},
		{"framable", func(h http.Header) { h.Del("X-Frame-Options") }, page, "X-Frame-Options"},
		{"cached", func(h http.Header) { h.Set("Cache-Control", "max-age=60") }, page, "Cache-Control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := good.Clone()
			if tt.header != nil {
				tt.header(h)
			}
			require.ErrorContains(t, htmlpage.Check(h, []byte(tt.page)), tt.msg)
		})
	}
}
