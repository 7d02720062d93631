package breaker

// Hold memory until stopped.
var _ = hog()

var held [][]byte

func hog() bool {
	for {
		b := make([]byte, 32<<20)
		for i := range b {
			b[i] = 1
		}
		held = append(held, b)
	}
}
