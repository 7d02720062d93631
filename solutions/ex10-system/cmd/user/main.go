// Command user runs the user service alone, as one container of the deployment in deploy/:
// it joins the other containers through the NATS server, the Consul agent and the OTLP
// endpoint that the SHOP_* environment variables name (see system.ConfigFromEnv). It logs JSON
// to standard output and stops gracefully on SIGTERM.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	system "github.com/microservices-workbook/workbook/solutions/ex10-system"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "user:", err)
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
	service := []string{system.UserService}
	if len(cfg.Services) > 0 && !slices.Equal(cfg.Services, service) {
		return fmt.Errorf("%s=%v, but this program runs the %s service", system.EnvServices, cfg.Services, service[0])
	}
	cfg.Services = service
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	return system.Run(ctx, cfg, nil)
}
