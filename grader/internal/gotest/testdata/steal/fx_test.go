package fx

import "testing"

func TestA(t *testing.T) { t.Fatal("never passes") }

func TestB(t *testing.T) { t.Fatal("never passes") }
