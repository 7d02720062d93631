package fx

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPass(t *testing.T) { assert.Equal(t, 3, Add(1, 2)) }

func TestFail(t *testing.T) {
	assert.Equal(t, 4, Add(1, 2), "expected Add(1, 2) to count the carry")
}

func TestSkip(t *testing.T) { t.Skip("nothing to check here") }

func TestSub(t *testing.T) {
	t.Run("good", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) {
		t.Run("deeper", func(t *testing.T) { t.Errorf("Add(2, 2) = %d, want 5", Add(2, 2)) })
	})
}

func TestParallel(t *testing.T) {
	for _, name := range []string{"one", "two"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, "one", name, "only one is right")
		})
	}
}

func TestPanic(t *testing.T) {
	t.Run("inner", func(t *testing.T) {
		var m map[string]int
		m["boom"]++
	})
}

func TestLater(t *testing.T) { assert.Equal(t, 2, Add(1, 1)) }
