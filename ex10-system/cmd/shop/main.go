// Command shop runs the whole e-commerce system in one process: the gateway, two instances of
// each service, an embedded NATS server and an in-memory registry. It prints the gateway's URL
// and runs until SIGINT or SIGTERM, then shuts down gracefully.
//
// The SHOP_* environment variables of system.ConfigFromEnv configure it; SHOP_GATEWAY_ADDR
// defaults to 127.0.0.1:8080 here.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	system "github.com/microservices-workbook/workbook/ex10-system"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := system.ConfigFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	if cfg.GatewayAddr == "" {
		cfg.GatewayAddr = "127.0.0.1:8080"
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	return system.Run(ctx, cfg, func(s *system.System) {
		fmt.Printf("gateway listening on %s\n", s.GatewayURL())
	})
}
