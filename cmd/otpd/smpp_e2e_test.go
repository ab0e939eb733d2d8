package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// startSMSC runs `otpd smsc` as its own process and returns its SMPP and
// HTTP addresses.
func startSMSC(t *testing.T, args ...string) (smppAddr, httpAddr string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"smsc", "--smpp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := smscListenRe.FindStringSubmatch(sc.Text()); m != nil {
			smppAddr, httpAddr = m[1], m[2]
			break
		}
	}
	require.NotEmpty(t, smppAddr, "otpd smsc did not start")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	return smppAddr, httpAddr
}

type smscMessage struct {
	To         string   `json:"to"`
	Text       string   `json:"text"`
	MessageIDs []string `json:"message_ids"`
}

func smscMessages(t *testing.T, httpAddr, to string) []smscMessage {
	t.Helper()
	res, err := http.Get("http://" + httpAddr + "/messages?to=" + url.QueryEscape(to))
	require.NoError(t, err)
	defer res.Body.Close()
	var msgs []smscMessage
	require.NoError(t, json.NewDecoder(res.Body).Decode(&msgs))
	return msgs
}

// otpd serve --smpp sends SMS to an SMSC in another process over SMPP, and
// records the SMSC's delivery receipts.
func TestServeWithSMPPRoute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	smppAddr, httpAddr := startSMSC(t, "--system-id", "otpd", "--password", "pw123456", "--dlr-delay", "20ms")
	srv := startServerArgs(t, t.TempDir(), "--admin-token", "a-fixed-admin-token-0123",
		"--smpp", "smpp://otpd:pw123456@"+smppAddr+"?window=16&source=AcmeBank")
	admin := client.New(srv.url, "a-fixed-admin-token-0123")
	require.Eventually(t, func() bool { return admin.Readyz(ctx) == nil }, 10*time.Second, 10*time.Millisecond, "ready once bound")

	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank"})
	require.NoError(t, err)
	const to = "+447700900123"
	v, err := admin.StartVerification(ctx, svc.ID, client.StartParams{To: to})
	require.NoError(t, err)

	var text string
	require.Eventually(t, func() bool {
		msgs := smscMessages(t, httpAddr, to)
		if len(msgs) == 0 {
			return false
		}
		text = msgs[0].Text
		return true
	}, 10*time.Second, 10*time.Millisecond)
	code := regexp.MustCompile(`code is ([0-9]{6})`).FindStringSubmatch(text)[1]
	require.Eventually(t, func() bool {
		got, err := admin.GetVerification(ctx, svc.ID, v.ID)
		require.NoError(t, err)
		return got.Messages[0].Status == client.MessageDelivered
	}, 10*time.Second, 10*time.Millisecond, "the receipt from the other process is recorded")

	// /readyz names each route; /metrics counts its sends.
	ready := getJSON[struct {
		Status  string            `json:"status"`
		Details map[string]string `json:"details"`
	}](t, srv.url+"/readyz")
	require.Equal(t, "ok", ready.Status)
	require.Equal(t, "ok", ready.Details["sms_route:smpp"])
	m, err := http.Get(srv.url + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(m.Body)
	m.Body.Close()
	require.Contains(t, string(body), `otpd_sms_route_sends_total{result="ok",route="smpp"} 1`)
	require.Contains(t, string(body), `otpd_message_queue_seconds_count{channel="sms",status="delivered"} 1`)
	require.Contains(t, string(body), `otpd_sms_route_receipts_total{route="smpp",status="delivered"} 1`)
	require.Contains(t, string(body), `otpd_sms_route_queue_seconds_count{route="smpp",status="sent"} 1`)
	require.Contains(t, string(body), `otpd_sms_route_queue_seconds_count{route="smpp",status="delivered"} 1`)
	require.Contains(t, string(body), `otpd_sms_route_binds{route="smpp",state="bound"} 1`)

	res, err := admin.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code})
	require.NoError(t, err)
	require.True(t, res.Valid)
	_, err = admin.DevMessages(ctx, to)
	require.True(t, client.IsCode(err, client.CodeNotFound), "no dev inbox without --dev")
	srv.stop(t)
	require.NotContains(t, srv.stderr.String(), "pw123456", "the SMPP password is never logged")
	require.NotContains(t, srv.stderr.String(), code)
}

func getJSON[T any](t *testing.T, url string) T {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	var v T
	require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
	return v
}

// Routes from the config file: the preferred route's SMSC is down, so the
// message fails over to the backup route for the same prefix.
func TestServeWithConfiguredRoutesFailsOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, httpAddr := startSMSC(t)
	backupSMPP, _ := startSMSCAddr(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downAddr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens here: that SMSC is down

	dir := t.TempDir()
	conf := filepath.Join(dir, "otpd.yaml")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
admin_token: a-fixed-admin-token-0123
sms:
  routes:
    - name: primary
      smpp: smpp://otpd:pw@%s
      prefixes: ["+44"]
      priority: 1
    - name: backup
      smpp: smpp://otpd:pw@%s
      prefixes: ["+44"]
      priority: 2
`, downAddr, backupSMPP.smpp)), 0o600))
	srv := startServerArgs(t, t.TempDir(), "--config", conf)
	admin := client.New(srv.url, "a-fixed-admin-token-0123")
	svc, err := admin.CreateService(ctx, client.CreateServiceParams{Name: "Acme"})
	require.NoError(t, err)
	_, err = admin.StartVerification(ctx, svc.ID, client.StartParams{To: "+447700900123"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(smscMessages(t, backupSMPP.http, "+447700900123")) == 1 },
		15*time.Second, 20*time.Millisecond, "the backup route delivers")
	require.Empty(t, smscMessages(t, httpAddr, "+447700900123"))

	ready := getJSON[struct {
		Details map[string]string `json:"details"`
	}](t, srv.url+"/readyz")
	require.Equal(t, "ok", ready.Details["sms_route:backup"])
	require.NotEqual(t, "ok", ready.Details["sms_route:primary"], "the down route is named")
	srv.stop(t)
}

type smscAddrs struct{ smpp, http string }

func startSMSCAddr(t *testing.T, args ...string) (smscAddrs, string) {
	t.Helper()
	s, h := startSMSC(t, args...)
	return smscAddrs{s, h}, h
}
