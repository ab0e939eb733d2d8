package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/otpd/otpd"
)

// maxBodyBytes bounds an API request's body. The largest legitimate body,
// a service with every field set, is a few kilobytes.
const maxBodyBytes = 64 << 10

// maxRequestBytes bounds every request's body, those of mounted handlers
// included: the providers' callbacks set their own, smaller limits, but
// none may rely on that. Meta's and Google's batched status notifications
// are the largest legitimate bodies, well under this.
const maxRequestBytes = 1 << 20

// tooLarge is the 413 request_too_large error for a body over limit bytes.
func tooLarge(limit int64) error {
	return &otpd.Error{Kind: errBodyTooLarge, Detail: fmt.Sprintf("the request body must be at most %d bytes", limit)}
}

// access says who may call an endpoint.
type access int

const (
	// adminOnly: the admin token; the endpoint names no service.
	adminOnly access = iota
	// adminService: the admin token; the path names a service {sid}.
	adminService
	// serviceScoped: the admin token or a key of the service {sid}.
	serviceScoped
)

// call is one authenticated API request.
type call struct {
	r         *http.Request
	principal otpd.Principal
	sid       string // the {sid} path value, when the route has one
	body      []byte
	// subject is the blind index of the destination the response is
	// about, set by endpoints that answer with a verification, so that a
	// remembered response is erased with the destination's other data.
	subject string
	// err is the error the endpoint returned, if any.
	err error
}

// endpoint handles a call. It returns the status and the value to encode
// as JSON (nil for no body), or an error that becomes a problem document.
type endpoint func(ctx context.Context, c *call) (int, any, error)

// api wraps an endpoint with authentication, access control, body
// reading, idempotency and error mapping.
func (s *Server) api(acc access, ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeResponse(w, s.serveAPI(w, r, acc, ep, false))
	})
}

// apiCreate is api for an endpoint whose one durable write creates a
// verification: its Idempotency-Key is remembered in that write
// (otpd.IdempotentWrite) rather than reserved and completed in writes of
// its own. The endpoint sets the IdempotentWrite's Render.
func (s *Server) apiCreate(acc access, ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeResponse(w, s.serveAPI(w, r, acc, ep, true))
	})
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, acc access, ep endpoint, creates bool) *response {
	ctx := r.Context()
	c, err := s.authorize(r, acc)
	if err != nil {
		return s.errorResponse(r, err)
	}
	// The engine records admin actions in the audit log under whoever
	// this request acts for.
	ctx = otpd.WithPrincipal(ctx, c.principal)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A write waits behind every write queued before it: past the
		// engine's limit, refuse it now (503 overloaded, Retry-After)
		// rather than queue it too, and before its Idempotency-Key is
		// reserved (a write itself). Reads are not shed: they do not wait
		// for the writer.
		if err := s.engine.Admit(); err != nil {
			return s.errorResponse(r, err)
		}
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodPut {
		if c.body, err = readBody(w, r); err != nil {
			return s.errorResponse(r, err)
		}
	}
	if r.Method == http.MethodPost {
		if key, ok := idempotencyKey(r); ok {
			if err := validIdempotencyKey(key); err != nil {
				return s.errorResponse(r, err)
			}
			if creates {
				return s.idempotentCreate(ctx, c, key, ep)
			}
			return s.idempotent(ctx, c, key, func() *response { return s.run(ctx, c, ep) })
		}
	}
	return s.run(ctx, c, ep)
}

// run calls the endpoint, turning a panic into a 500 so that an
// idempotency reservation is released rather than left to time out.
func (s *Server) run(ctx context.Context, c *call, ep endpoint) (res *response) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			res = s.errorResponse(c.r, fmt.Errorf("panic: %v", p))
		}
	}()
	status, v, err := ep(ctx, c)
	if err != nil {
		c.err = err
		return s.errorResponse(c.r, err)
	}
	return jsonResponse(status, v)
}

// errorResponse maps err to a problem, logging the ones that are the
// server's fault. The log line names the route, never the path or body.
func (s *Server) errorResponse(r *http.Request, err error) *response {
	res := errorResponse(err)
	if res.status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("route", r.Pattern), slog.Any("err", err))
	}
	return res
}

// authorize authenticates the bearer token and applies the access rules
// described in the package documentation.
func (s *Server) authorize(r *http.Request, acc access) (*call, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, &otpd.Error{Kind: otpd.ErrUnauthorized, Detail: "an Authorization: Bearer token is required"}
	}
	p, err := s.engine.Authenticate(r.Context(), token)
	if err != nil {
		return nil, err
	}
	c := &call{r: r, principal: p}
	requireAdmin := &otpd.Error{Kind: otpd.ErrUnauthorized, Detail: "this endpoint requires the admin token"}
	if acc == adminOnly {
		if !p.Admin {
			return nil, requireAdmin
		}
		return c, nil
	}
	c.sid = r.PathValue("sid")
	if !otpd.HasPrefix(c.sid, otpd.PrefixService) || !p.CanAccess(c.sid) {
		// Another tenant's service is indistinguishable from none at all.
		return nil, errNotFound
	}
	if acc == adminService && !p.Admin {
		return nil, requireAdmin
	}
	return c, nil
}

func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// pathID returns the path value name if it carries the prefix; an id
// without it cannot name anything, so it is 404 like an unknown one.
func pathID(r *http.Request, name, prefix string) (string, error) {
	id := r.PathValue(name)
	if !otpd.HasPrefix(id, prefix) {
		return "", errNotFound
	}
	return id, nil
}

// readBody reads at most maxBodyBytes; a longer one is 413
// request_too_large, and is not read further. A body that is not empty must be
// JSON; an empty one stands for {} whatever its Content-Type, so that
// clients may POST to cancel or resend without a body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var over *http.MaxBytesError
	switch {
	case errors.As(err, &over):
		return nil, tooLarge(over.Limit)
	case err != nil:
		return nil, invalidParam("", "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, invalidParam("Content-Type", "must be application/json for a request with a body")
	}
	return body, nil
}

// decode decodes a JSON object body into dst, strictly: unknown fields,
// wrong types and trailing data are errors naming the offending field. An
// empty body decodes as {}.
func decode(body []byte, dst any) error {
	if len(body) == 0 {
		return nil
	}
	if err := checkMembers(body, reflect.TypeOf(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidParam("", "the request body must hold a single JSON object, with nothing after it")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var ve *otpd.Error
	switch {
	case errors.As(err, &ve):
		return ve // from a field's UnmarshalJSON
	case errors.As(err, &syntax):
		return invalidParam("", "the request body is not valid JSON: %v (at byte %d)", syntax, syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidParam("", "the request body is not valid JSON: it ends too early")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return invalidParam("", "the request body must be a JSON object")
		}
		return invalidParam(typ.Field, "must be %s", jsonKind(typ.Type))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return invalidParam(name, "is not a known field")
	}
	return invalidParam("", "the request body is not valid: %v", err)
}

// checkMembers refuses what encoding/json would accept silently: a member
// whose name matches a field only when case is ignored ("TO" for "to") and
// a member given twice (the last would win). Either is a client's mistake
// that would otherwise make an option quietly do nothing. Syntax and type
// errors are left to the decoder, which explains them better.
func checkMembers(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := walkMembers(dec, t, ""); err != errMalformed {
		return err
	}
	return nil
}

// errMalformed stops the walk at the first syntax error; the decoder that
// runs next reports it.
var errMalformed = errors.New("malformed JSON")

func walkMembers(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return errMalformed
	}
	t = decodedAs(t)
	switch tok {
	case json.Delim('{'):
		fields := jsonFields(t)
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return errMalformed
			}
			name, _ := kt.(string)
			p := name
			if p == "" {
				p = `""`
			}
			if path != "" {
				p = path + "." + p
			}
			if seen[name] {
				return invalidParam(p, "is given twice")
			}
			seen[name] = true
			var ft reflect.Type
			if fields != nil {
				f, ok := fields[name]
				if !ok {
					return invalidParam(p, "is not a known field (names are case-sensitive)")
				}
				ft = f
			}
			if err := walkMembers(dec, ft, p); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkMembers(dec, elem, path); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// decodedAs returns the type whose members a JSON value fills: pointers
// are followed; a type that decodes itself is opaque (nil).
func decodedAs(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		if t.Kind() != reflect.Pointer {
			return t
		}
		t = t.Elem()
	}
	return nil
}

// jsonFields maps a struct's JSON member names to their types, or returns
// nil for anything that is not a struct (maps and interfaces take any name).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			maps.Copy(fields, jsonFields(f.Type)) // promoted members
			continue
		}
		if !f.IsExported() {
			continue
		}
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// ---- Paging ----

const (
	defaultLimit = 50
	maxLimit     = 500
)

// page is a list request's limit and decoded cursor (an id).
type page struct {
	limit int
	after string
}

// parsePage reads ?limit= and ?cursor=; empty ones are absent, so a client
// may always send both. A cursor is the base64url of the
// last id of the previous page; it must decode to an id of the listed
// type, so a tampered cursor is a 400 rather than a silent empty page.
func parsePage(r *http.Request, prefix string) (page, error) {
	q := r.URL.Query()
	p := page{limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, invalidParam("limit", "must be an integer between 1 and %d", maxLimit)
		}
		p.limit = n
	}
	if v := q.Get("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || !otpd.HasPrefix(string(b), prefix) {
			return p, invalidParam("cursor", "is not a cursor this list returned")
		}
		p.after = string(b)
	}
	return p, nil
}

func encodeCursor(id string) *string {
	c := base64.RawURLEncoding.EncodeToString([]byte(id))
	return &c
}

// list is the shape of every list response.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// paginate converts up to p.limit items (of a fetch of p.limit+1) and sets
// the next cursor when there was one more.
func paginate[E, T any](items []E, p page, id func(E) string, conv func(E) T) list[T] {
	l := list[T]{Data: make([]T, 0, min(len(items), p.limit))}
	if len(items) > p.limit {
		items = items[:p.limit]
		l.NextCursor = encodeCursor(id(items[len(items)-1]))
	}
	for _, it := range items {
		l.Data = append(l.Data, conv(it))
	}
	return l
}
