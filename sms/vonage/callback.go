package vonage

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/otpd/otpd"
)

// maxCallbackBody bounds a delivery receipt: a few hundred bytes of fields.
const maxCallbackBody = 64 << 10

// CallbackHandler serves the delivery receipts (DLRs) of messages this
// route sent. It takes each form the dashboard's "HTTP method" setting
// allows: GET with query parameters, POST with a form, POST with JSON.
//
// Every request must be authentic or it is refused with 403 and no detail,
// and record is not called:
//
//   - the query parameters of StatusCallbackURL (the route's own token)
//     must all be present with the same values;
//   - with SignatureSecret set, the receipt's parameters must carry a sig
//     that signs them (timestamp and nonce included) with SignatureMethod;
//   - without SignatureSecret, the token is the only proof, so a
//     StatusCallbackURL without one (or none at all) refuses every request.
//
// The token's parameters are otpd's, not Vonage's, and are left out of the
// signed set. A POST body over 64 KiB is refused with 413.
//
// Final receipts are recorded with Ref routeName+":"+messageId: delivered
// as delivered; expired and failed as undelivered; rejected as failed;
// unknown with a non-zero err-code as undelivered (Vonage: any non-zero
// err-code means the SMS did not arrive). accepted, buffered and unknown
// with err-code 0 are not final and are acknowledged without recording. The
// reply is 204 No Content when the receipt was recorded or needs no
// recording, including when record returns an error wrapping
// otpd.ErrNotFound (a message otpd does not know: retrying cannot help, so
// it is acknowledged; record is where the caller logs it). Any other error
// from record is a 500, so Vonage retries.
func (r *Route) CallbackHandler(record func(context.Context, otpd.Receipt) error, routeName string) http.Handler {
	var own url.Values
	if r.cfg.StatusCallbackURL != "" {
		u, _ := url.Parse(r.cfg.StatusCallbackURL) // checked by Validate
		own = u.Query()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		query, err := url.ParseQuery(req.URL.RawQuery)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if !r.authorizedURL(own, query) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		params, err := receiptParams(w, req, query, own)
		if err != nil {
			if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.cfg.SignatureSecret != "" && !validSignature(r.cfg.SignatureMethod, r.cfg.SignatureSecret, params) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		receipt, ok := parseReceipt(params)
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		receipt.Ref = routeName + ":" + receipt.Ref
		if err := record(req.Context(), receipt); err != nil && !errors.Is(err, otpd.ErrNotFound) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// authorizedURL checks the route's own token: every parameter of the
// configured callback URL's query, with the same value, compared in
// constant time. Without a signature secret there must be such a token.
func (r *Route) authorizedURL(own, query url.Values) bool {
	if r.cfg.SignatureSecret == "" && !hasToken(own) {
		return false
	}
	ok := 1
	for name, want := range own {
		got := query[name]
		if len(got) != len(want) {
			ok = 0
			continue
		}
		for i := range want {
			ok &= subtle.ConstantTimeCompare([]byte(got[i]), []byte(want[i]))
		}
	}
	return ok == 1
}

// receiptParams collects a receipt's parameters from the query (GET), a
// form or a JSON object (POST), without the route's own token.
func receiptParams(w http.ResponseWriter, req *http.Request, query, own url.Values) (url.Values, error) {
	params := url.Values{}
	if req.Method == http.MethodGet {
		for name, vs := range query {
			if _, mine := own[name]; !mine {
				params[name] = vs
			}
		}
		return params, nil
	}
	req.Body = http.MaxBytesReader(w, req.Body, maxCallbackBody)
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if ct != "application/json" {
		if err := req.ParseForm(); err != nil {
			return nil, err
		}
		return req.PostForm, nil
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	for name, v := range obj {
		switch v := v.(type) {
		case string:
			params.Set(name, v)
		case json.Number:
			params.Set(name, v.String())
		case bool:
			params.Set(name, map[bool]string{true: "true", false: "false"}[v])
		case nil:
		default:
			return nil, errors.New("nested value")
		}
	}
	return params, nil
}

// parseReceipt reads a DLR; ok is false for a status that is not final or
// a request without a message id. Ref is the bare message id.
func parseReceipt(p url.Values) (r otpd.Receipt, ok bool) {
	id, status, errCode := p.Get("messageId"), p.Get("status"), p.Get("err-code")
	if id == "" {
		return otpd.Receipt{}, false
	}
	switch status {
	case "delivered":
		r.Status = otpd.MessageDelivered
	case "expired", "failed":
		r.Status = otpd.MessageUndelivered
	case "rejected":
		r.Status = otpd.MessageFailed
	case "unknown":
		if errCode == "" || errCode == "0" {
			return otpd.Receipt{}, false
		}
		r.Status = otpd.MessageUndelivered
	default: // accepted, buffered, or something new
		return otpd.Receipt{}, false
	}
	r.Channel, r.Ref = otpd.ChannelSMS, id
	if r.Status != otpd.MessageDelivered {
		r.Error = status
		if errCode != "" {
			r.Error += " (err-code " + sanitizeCode(errCode)
			if what := dlrErrText[errCode]; what != "" {
				r.Error += ": " + what
			}
			r.Error += ")"
		}
	}
	return r, true
}
