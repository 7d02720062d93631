package fx

import "testing"

func TestQuick(t *testing.T) {}

func TestHang(t *testing.T) { Wait() }

func TestLater(t *testing.T) {}
