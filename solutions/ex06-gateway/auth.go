package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SubjectHeader carries the subject ("sub") of a verified token to the upstream. The gateway
// removes any copy a client sends, on every route.
const SubjectHeader = "X-Auth-Subject"

// DefaultAlgorithm is the one algorithm a JWTConfig without Algorithms accepts.
const DefaultAlgorithm = "RS256"

// ErrUnknownKey is wrapped by KeySet.PublicKey for a key ID it does not hold.
var ErrUnknownKey = errors.New("unknown key ID")

// KeySet finds the public key that verifies a token, by the key ID in the token's "kid"
// header. Looking keys up by ID is what lets them rotate: the next key is published under a
// new ID while the tokens signed with the old one are still in use.
type KeySet interface {
	// PublicKey returns the key with this ID: an *rsa.PublicKey, *ecdsa.PublicKey or
	// ed25519.PublicKey. An unknown ID is an error wrapping ErrUnknownKey.
	PublicKey(kid string) (crypto.PublicKey, error)
}

// StaticKeys is a KeySet held in memory, by key ID.
type StaticKeys map[string]crypto.PublicKey

// PublicKey returns the key with this ID.
func (k StaticKeys) PublicKey(kid string) (crypto.PublicKey, error) {
	key, ok := k[kid]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	return key, nil
}

// JWTConfig says which bearer tokens the routes with Auth accept: signed by a key of Keys with
// one of Algorithms, issued by Issuer for Audience, with an expiry ("exp") that has not passed
// and a subject ("sub").
type JWTConfig struct {
	// Keys holds the public keys that verify tokens, by key ID. Required.
	Keys KeySet
	// Issuer is the "iss" every token must carry. Required.
	Issuer string
	// Audience is a value the token's "aud" must contain. Required.
	Audience string
	// Algorithms are the signing algorithms accepted, all asymmetric (RS*, PS*, ES*, EdDSA):
	// a gateway holding an HMAC secret could also forge tokens. Default: DefaultAlgorithm.
	Algorithms []string
	// Leeway is the clock skew allowed when checking "exp" and "nbf". Default: 0.
	Leeway time.Duration
}

// AuthMiddleware lets a request through only with a valid bearer token in its Authorization
// header, and records the token's subject for the steps after it (the rate limit, the
// SubjectHeader sent upstream, the access log). Anything else gets 401 with a
// WWW-Authenticate challenge (RFC 6750): error="invalid_token" when a token was presented in
// any form, a bare challenge when there was no credential at all.
//
// It verifies tokens with the JWTConfig of the gateway that serves the request: the gateway
// puts itself in the request's context, as net/http puts the *http.Server there. Outside a
// gateway it lets nothing through.
func AuthMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		if st == nil || st.gw.auth == nil { // not behind a gateway that can verify tokens
			unauthorized(w, false)
			return
		}
		raw, presented := bearerToken(r)
		sub, err := "", errNoToken
		if raw != "" {
			sub, err = st.gw.auth.verify(raw)
		}
		if err != nil {
			st.gw.metrics.authRejected(st.route.Path)
			// The parser's errors say what was wrong with the token, never what it was.
			st.gw.logger.LogAttrs(r.Context(), slog.LevelDebug, "token rejected",
				slog.String("request_id", st.id), slog.Any("error", err))
			unauthorized(w, presented)
			return
		}
		st.subject = sub
		next.ServeHTTP(w, r)
	})
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header, and whether the
// request presented a credential at all, in the header or in the query string.
func bearerToken(r *http.Request) (token string, presented bool) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		// RFC 6750 also allows an access_token parameter; the gateway does not, since URLs
		// end up in logs. Its presence still makes the request a failed attempt.
		return "", r.URL.Query().Has("access_token")
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if len(values) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", true
	}
	return token, true
}

// unauthorized answers 401 with the challenge of RFC 6750, section 3.
func unauthorized(w http.ResponseWriter, presented bool) {
	challenge := `Bearer realm="gateway"`
	if presented {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
}

// errNoToken stands for a request without a bearer token.
var errNoToken = errors.New("no bearer token")

// errNoSubject rejects a token without "sub": the gateway has nobody to name upstream.
var errNoSubject = errors.New("token has no subject")

// verifier checks tokens against a JWTConfig.
type verifier struct {
	keys   KeySet
	parser *jwt.Parser
	leeway time.Duration
	clock  Clock
	cache  tokenCache
}

func newVerifier(cfg JWTConfig, clock Clock) (*verifier, error) {
	switch {
	case cfg.Keys == nil:
		return nil, fmt.Errorf("%w: routes with Auth need JWT.Keys", ErrInvalidConfig)
	case cfg.Issuer == "":
		return nil, fmt.Errorf("%w: routes with Auth need JWT.Issuer", ErrInvalidConfig)
	case cfg.Audience == "":
		return nil, fmt.Errorf("%w: routes with Auth need JWT.Audience", ErrInvalidConfig)
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []string{DefaultAlgorithm}
	}
	for _, alg := range algs {
		switch jwt.GetSigningMethod(alg).(type) {
		case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS, *jwt.SigningMethodECDSA, *jwt.SigningMethodEd25519:
		default:
			return nil, fmt.Errorf("%w: JWT algorithm %q is not an asymmetric signature", ErrInvalidConfig, alg)
		}
	}
	return &verifier{
		keys: cfg.Keys,
		parser: jwt.NewParser(
			jwt.WithValidMethods(algs),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(max(cfg.Leeway, 0)),
			jwt.WithTimeFunc(clock.Now),
		),
		leeway: max(cfg.Leeway, 0),
		clock:  clock,
		cache:  tokenCache{entries: map[string]cachedToken{}},
	}, nil
}

// verify returns the subject of a valid token, or why it is not valid.
func (v *verifier) verify(raw string) (string, error) {
	now := v.clock.Now()
	if c, ok := v.cache.get(raw); ok && now.Before(c.validUntil) {
		if _, err := v.keys.PublicKey(c.kid); err == nil { // the key may have been withdrawn
			return c.subject, nil
		}
	}
	var claims jwt.RegisteredClaims
	token, err := v.parser.ParseWithClaims(raw, &claims, v.key)
	if err != nil {
		return "", err
	}
	if claims.Subject == "" {
		return "", errNoSubject
	}
	// The parser requires "exp"; checking again keeps a token out of the cache for good.
	if claims.ExpiresAt != nil {
		kid, _ := token.Header["kid"].(string)
		v.cache.put(raw, cachedToken{subject: claims.Subject, kid: kid, validUntil: claims.ExpiresAt.Add(v.leeway)}, now)
	}
	return claims.Subject, nil
}

// key is the parser's Keyfunc: it looks the token's key up by "kid", and refuses a key that
// does not belong to the algorithm the token names (the parser has already checked that the
// algorithm is one of those accepted).
func (v *verifier) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token has no kid")
	}
	key, err := v.keys.PublicKey(kid)
	if err != nil {
		return nil, err
	}
	var fits bool
	switch t.Method.(type) {
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		_, fits = key.(*rsa.PublicKey)
	case *jwt.SigningMethodECDSA:
		_, fits = key.(*ecdsa.PublicKey)
	case *jwt.SigningMethodEd25519:
		_, fits = key.(ed25519.PublicKey)
	}
	if !fits {
		return nil, fmt.Errorf("key %q does not fit algorithm %s", kid, t.Method.Alg())
	}
	return key, nil
}

// maxCachedTokens bounds the tokenCache.
const maxCachedTokens = 10_000

// tokenCache remembers tokens already verified. Checking an RS256 signature costs about a
// tenth of a millisecond, more than proxying the request, and a client sends the same token
// with every request until it expires. Only valid tokens get in, each until its expiry.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[string]cachedToken // by the token itself
}

type cachedToken struct {
	subject    string
	kid        string
	validUntil time.Time // "exp" plus the leeway
}

func (c *tokenCache) get(raw string) (cachedToken, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[raw]
	return e, ok
}

// put stores a verified token. When the cache is full it drops the expired entries, or all of
// them if none has expired.
func (c *tokenCache) put(raw string, e cachedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedTokens {
		for k, old := range c.entries {
			if !now.Before(old.validUntil) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedTokens {
			clear(c.entries)
		}
	}
	c.entries[raw] = e
}
