package saslx

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const secretToken = "ya29.SECRET-TOKEN-VALUE"

func TestXOAUTH2InitialResponse(t *testing.T) {
	c := NewXOAUTH2Client("bob@example.com", secretToken)
	mech, ir, err := c.Start()
	require.NoError(t, err)
	assert.Equal(t, "XOAUTH2", mech)
	assert.Equal(t, "user=bob@example.com\x01auth=Bearer "+secretToken+"\x01\x01", string(ir))
	assert.Nil(t, c.(*XOAUTH2Client).ServerError())
}

func TestXOAUTH2ErrorChallenge(t *testing.T) {
	c := NewXOAUTH2Client("bob@example.com", secretToken)
	_, _, err := c.Start()
	require.NoError(t, err)
	resp, err := c.Next([]byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`))
	require.NoError(t, err)
	assert.NotNil(t, resp)
	assert.Empty(t, resp)

	serr := c.(*XOAUTH2Client).ServerError()
	require.Error(t, serr)
	var xe *XOAUTH2Error
	require.True(t, errors.As(serr, &xe))
	assert.Equal(t, "401", xe.Status)
	assert.Equal(t, "bearer", xe.Schemes)
	assert.Equal(t, "https://mail.google.com/", xe.Scope)
	assert.Contains(t, serr.Error(), "401")
	assert.NotContains(t, serr.Error(), secretToken)

	// A new exchange forgets the old error.
	_, _, err = c.Start()
	require.NoError(t, err)
	assert.Nil(t, c.(*XOAUTH2Client).ServerError())
}

func TestXOAUTH2EmptyChallenge(t *testing.T) {
	c := NewXOAUTH2Client("u", secretToken)
	resp, err := c.Next(nil)
	require.NoError(t, err)
	assert.Empty(t, resp)
	assert.Nil(t, c.(*XOAUTH2Client).ServerError())
}

func TestParseXOAUTH2ErrorTolerant(t *testing.T) {
	e := ParseXOAUTH2Error([]byte(`{"status":400,"extra":[1,2],"scope":null}`))
	assert.Equal(t, "400", e.Status)
	assert.Empty(t, e.Scope)

	e = ParseXOAUTH2Error([]byte("not json\x00\r\n" + strings.Repeat("x", 1000)))
	assert.Empty(t, e.Status)
	assert.LessOrEqual(t, len(e.Raw), maxJSONText)
	assert.NotContains(t, e.Raw, "\x00")
	assert.NotContains(t, e.Raw, "\n")
	assert.NotContains(t, e.Error(), secretToken)
}

// TestOAuthBearerAvailable documents that callers use go-sasl's OAUTHBEARER
// client and checks the error-challenge path never leaks the token.
func TestOAuthBearerAvailable(t *testing.T) {
	c := sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "bob", Token: secretToken, Host: "mail.example.com", Port: 995})
	mech, ir, err := c.Start()
	require.NoError(t, err)
	assert.Equal(t, sasl.OAuthBearer, mech)
	assert.Equal(t, "n,a=bob,\x01host=mail.example.com\x01port=995\x01auth=Bearer "+secretToken+"\x01\x01", string(ir))

	_, err = c.Next([]byte(`{"status":"invalid_token","scope":"mail"}`))
	var be *sasl.OAuthBearerError
	require.True(t, errors.As(err, &be))
	assert.Equal(t, "invalid_token", be.Status)
	assert.NotContains(t, err.Error(), secretToken)
}
