package main_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

// TestTemplateOverSMS: a service's own SMS text, set through the API, is
// what the person gets (over the dev SMSC), with the code in it; deleting
// it brings the built-in text back.
func TestTemplateOverSMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const token = "a-fixed-admin-token-0123"
	srv := startServerArgs(t, t.TempDir(), "--dev", "--admin-token", token)
	c := client.New(srv.url, token)
	svc, err := c.CreateService(ctx, client.CreateServiceParams{Name: "Acme Bank"})
	require.NoError(t, err)
	k := client.TemplateKey{Channel: client.ChannelSMS, Locale: "en"}
	tpl, created, err := c.SetTemplate(ctx, svc.ID, k, client.SetTemplateParams{Text: "{brand} sign-in: {code}\nValid for {expiry}."})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "login", tpl.Purpose)

	_, _, err = c.SetTemplate(ctx, svc.ID, k, client.SetTemplateParams{Text: "{brand} sign-in"})
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "invalid_parameter", apiErr.Code)
	require.Equal(t, "text", apiErr.Param)

	text := func(to string) (string, string) {
		v, err := c.StartVerification(ctx, svc.ID, client.StartParams{To: to, Locale: "en-GB"})
		require.NoError(t, err)
		var got client.DevMessage
		require.Eventually(t, func() bool {
			msgs, err := c.DevMessages(ctx, to)
			require.NoError(t, err)
			for _, m := range msgs {
				if m.VerificationID == v.ID {
					got = m
					return true
				}
			}
			return false
		}, 10*time.Second, 5*time.Millisecond, "no SMS for %s", v.ID)
		code := codeRe.FindStringSubmatch(got.Text)
		require.NotNil(t, code, "a code in %q", got.Text)
		res, err := c.CheckVerification(ctx, svc.ID, v.ID, client.CheckParams{Code: code[1]})
		require.NoError(t, err)
		require.True(t, res.Valid)
		return got.Text, code[1]
	}
	got, code := text("+447700900123")
	require.Equal(t, "Acme Bank sign-in: "+code+"\nValid for 10 minutes.", got)

	require.NoError(t, c.DeleteTemplate(ctx, svc.ID, k))
	got, code = text("+447700900124")
	require.Equal(t, "Your Acme Bank code is "+code+". It expires in 10 minutes. Don't share it.", got)
}
