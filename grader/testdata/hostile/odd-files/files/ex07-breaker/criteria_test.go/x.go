package breaker
