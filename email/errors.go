package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"

	"github.com/otpd/otpd"
)

// ErrAuth is wrapped by the errors of a server refusing to log in: a wrong
// Username or Password, or a mechanism it does not offer. Sends fail with a
// temporary error meanwhile (the operator can fix it while messages wait),
// and Ready reports it.
var ErrAuth = errors.New("email: SMTP authentication failed")

// ErrClosed is returned by Send and Ready after Close.
var ErrClosed = errors.New("email: sender is closed")

// stage is how far a transaction got, for classifying its failure.
type stage int

const (
	stageMail    stage = iota // MAIL FROM
	stageRcpt                 // RCPT TO
	stageData                 // the DATA command
	stageContent              // writing the message
	stageDataEnd              // the reply to the message
)

func (s stage) String() string {
	switch s {
	case stageMail:
		return "MAIL FROM"
	case stageRcpt:
		return "RCPT TO"
	case stageData:
		return "DATA"
	case stageContent:
		return "sending the message"
	default:
		return "end of DATA"
	}
}

// replyError returns err's SMTP reply when it is one.
func replyError(err error) (*textproto.Error, bool) {
	var te *textproto.Error
	ok := errors.As(err, &te)
	return te, ok
}

// sendError classifies a failed transaction for the delivery queue.
//
// Only a 5xx reply about this message is permanent: to its recipient (RCPT
// TO: user unknown, mailbox disabled, domain not accepted) or to its
// content (DATA and the reply after it). A 5xx reply to MAIL FROM is about
// the sender, the same for every message (From not allowed for the
// account), and so is 530 "authentication required" at any step (a Config
// without Username for a server that wants one): both are temporary, as
// every configuration problem is, so messages wait while the operator
// fixes it, and Ready reports them. 4xx replies and connection, TLS and
// timeout errors are temporary too.
func sendError(ctx context.Context, st stage, err error, to string) error {
	if te, ok := replyError(err); ok {
		text := serverText(te.Msg, to)
		return &otpd.SendError{
			Permanent: te.Code/100 == 5 && !senderProblem(st, te.Code),
			Code:      strconv.Itoa(te.Code),
			Err:       fmt.Errorf("email: server refused %s: %d %s", st, te.Code, text),
		}
	}
	what := st.String()
	if st >= stageContent {
		// The server may have taken the message before the connection
		// broke: a retry can deliver it twice, with the same Message-ID,
		// which lets mail systems that deduplicate by it (Gmail does)
		// show it once.
		what += ", the server may have accepted it"
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("email: %s: %w (%v)", what, ctxErr, err)
	}
	return fmt.Errorf("email: %s: %w", what, err)
}

// dialError describes a failure to connect, negotiate TLS or log in.
func (s *Sender) dialError(ctx context.Context, err error, authStarted bool) error {
	addr := s.cfg.addr()
	if authStarted {
		if te, ok := replyError(err); ok && te.Code/100 == 4 {
			// 454 and the like: the server could not check the
			// password just now; nothing says it is wrong.
			return &otpd.SendError{Code: strconv.Itoa(te.Code), Err: fmt.Errorf("email: %s could not log in user %q just now: %d %s", addr, s.cfg.Username, te.Code, serverText(te.Msg, ""))}
		}
		e := fmt.Errorf("%w: %s did not accept user %q: %v; check Username, Password and Auth (operator configuration)", ErrAuth, addr, s.cfg.Username, cleanAuthErr(err))
		if te, ok := replyError(err); ok {
			return &otpd.SendError{Code: strconv.Itoa(te.Code), Err: e}
		}
		return e
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("email: connect to %s: %w (%v)", addr, ctxErr, err)
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		return fmt.Errorf("email: %s's certificate is not trusted (for a private CA, set RootCAs): %w", addr, err)
	}
	return fmt.Errorf("email: connect to %s: %w", addr, err)
}

// cleanAuthErr drops go-mail's prefix, which adds nothing to ours.
func cleanAuthErr(err error) string {
	return strings.TrimPrefix(err.Error(), "SMTP AUTH failed: ")
}

// serverText makes a server's reply text fit for an error that is logged
// and stored with the message: on one line, bounded, and with the
// recipient's address masked, as servers often quote it ("<ana@…>:
// Recipient address rejected").
func serverText(msg, to string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if to != "" {
		msg = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(to)).ReplaceAllLiteralString(msg, otpd.MaskDestination(to))
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return strings.ToValidUTF8(msg, "?")
}

// senderProblem reports whether a 5xx reply at st concerns the sender or
// its account rather than this message.
func senderProblem(st stage, code int) bool {
	return code/100 == 5 && (st == stageMail || code == 530)
}
