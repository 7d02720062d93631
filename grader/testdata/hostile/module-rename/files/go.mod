module github.com/stretchr/testify

go 1.26

exclude google.golang.org/grpc v1.85.0

replace github.com/prometheus/client_golang => ./assert
