package events

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A suite that fails against the reference solution: it pins the wording of the welcome message,
// which the statement leaves open. It must not meet ex04.integration.

func TestMyWelcomeWording(t *testing.T) {
	env, err := NewEnvelope(UserCreatedEvent{UserID: "u-1", Email: "eva@example.com", Name: "Eva"})
	require.NoError(t, err)
	data, err := json.Marshal(env)
	require.NoError(t, err)
	svc := NewNotificationService()
	require.NoError(t, svc.HandleUserCreated(context.Background(), data))
	require.Len(t, svc.Sent(), 1)
	assert.Equal(t, "Welcome, Eva!", svc.Sent()[0].Body)
}
