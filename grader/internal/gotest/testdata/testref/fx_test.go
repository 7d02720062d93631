package fx

import "testing"

var want = 42

func TestExpected(t *testing.T) {
	if Expected() != 42 {
		t.Fatal("wrong")
	}
}
