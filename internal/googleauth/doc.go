// Package googleauth gets OAuth 2.0 access tokens for a Google service
// account, for the channels that call Google APIs (RCS Business Messaging,
// Firebase Cloud Messaging). It is the "server to server" flow and nothing
// else: no user consent, no metadata server, no impersonation.
//
// # The flow
//
// As "Using OAuth 2.0 for Server to Server Applications"
// (https://developers.google.com/identity/protocols/oauth2/service-account)
// and RFC 7523 section 2.1 (the JWT bearer authorization grant) describe
// it, the service account signs a JWT with its private key and trades it
// for an access token:
//
//	header  {"alg":"RS256","typ":"JWT","kid":private_key_id}
//	claims  {"iss":client_email, "scope":"scope1 scope2",
//	         "aud":token_uri, "iat":now, "exp":iat+3600}
//
//	POST token_uri
//	Content-Type: application/x-www-form-urlencoded
//
//	grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=<JWT>
//
// and the reply is the RFC 6749 section 5.1 token response,
//
//	{"access_token":"ya29...","expires_in":3599,"token_type":"Bearer"}
//
// or a section 5.2 error, {"error":"invalid_grant","error_description":"..."},
// which [TokenError] carries. Google allows exp at most one hour after
// iat, and tokens live about an hour.
//
// # Caching
//
// A [TokenSource] keeps its token until five minutes before it expires (so
// a request sent with it does not arrive with a token that has just
// lapsed), then fetches a new one on the next call. Concurrent callers
// share one fetch. Nothing runs in the background: a source that is not
// used makes no requests.
//
// The import path is internal: the API is small on purpose, and it may
// change with its callers.
package googleauth
