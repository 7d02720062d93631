package fx

import "testing"

func TestA(t *testing.T) {
	Forge()
	t.Fatal("a forger's test fails")
}

func TestB(t *testing.T) { t.Fatal("never passes") }
