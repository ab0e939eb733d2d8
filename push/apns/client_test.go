package apns

import (
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// The default client speaks HTTP/2 only: APNs takes nothing else, and a
// server that offers only HTTP/1.1 is not APNs.
func TestDefaultClientIsHTTP2Only(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{true, false} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Proto)
		}))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		t.Cleanup(srv.Close)

		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		if h2 {
			_, err := defaultClient(nil).Get(srv.URL)
			require.ErrorContains(t, err, "certificate", "a server the system's roots do not know")
		}
		resp, err := defaultClient(roots).Get(srv.URL)
		if !h2 {
			require.Error(t, err, "an HTTP/1.1-only server")
			continue
		}
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, "HTTP/2.0", string(body))
	}
}
