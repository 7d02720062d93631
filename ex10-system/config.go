package system

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The services of the system, by the names they register under.
const (
	GatewayService      = "gateway"
	UserService         = "user"
	ProductService      = "product"
	OrderService        = "order"
	InventoryService    = "inventory"
	PaymentService      = "payment"
	NotificationService = "notification"
)

// AllServices lists every service, the gateway first.
var AllServices = []string{GatewayService, UserService, ProductService, OrderService, InventoryService, PaymentService, NotificationService}

// ErrInvalidConfig is returned, wrapped, for a Config that Start cannot use.
var ErrInvalidConfig = errors.New("invalid config")

// Config configures the system. The zero value runs everything in one process on loopback with
// an embedded NATS server and an in-memory registry; each zero field takes the default written
// in its comment.
type Config struct {
	// Services lists the services this process runs (names from AllServices). Default: all.
	Services []string
	// Instances is how many instances of a service to start, by service name. Default: 2 of
	// every service but the gateway, which has one.
	Instances map[string]int

	// Host is the address the instances listen on. Default "127.0.0.1".
	Host string
	// Port is where the first instance of each service listens; the others, and every instance
	// when it is 0, listen on a free port. Default 0. (A container runs one instance on a known
	// port.)
	Port int
	// AdvertiseHost is the address instances register, where callers reach them. Default:
	// Host, or "127.0.0.1" when Host is unspecified ("0.0.0.0", "::" or "").
	AdvertiseHost string
	// GatewayAddr is where the gateway listens. Default "127.0.0.1:0", a free port.
	GatewayAddr string

	// NATSURL is the NATS server with JetStream. Default "": an embedded nats-server on a free
	// loopback port, its JetStream store in DataDir.
	NATSURL string
	// DataDir is where the embedded NATS server keeps its JetStream store. Default "": a
	// temporary directory removed at shutdown.
	DataDir string

	// Registry is the service registry. Default nil: Consul at ConsulAddr when that is set,
	// else an in-memory registry that runs the health checks itself.
	Registry ServiceRegistry
	// ConsulAddr is the Consul agent's address, such as "consul:8500". Default "": no Consul.
	ConsulAddr string
	// HealthInterval is how often the registry checks each instance's /ready. Default 1s.
	HealthInterval time.Duration

	// CallTimeout bounds one call from a service to another. Default 2s.
	CallTimeout time.Duration
	// BreakerThreshold is how many calls in a row to a service must fail for the caller's
	// breaker to that service to open. Default 5.
	BreakerThreshold int
	// BreakerOpenTimeout is how long a breaker stays open before it lets a trial call through.
	// Default 10s.
	BreakerOpenTimeout time.Duration

	// TraceExporter receives every service's spans. Default nil: OTLP over HTTP to
	// TraceEndpoint, or no export when that is empty too.
	TraceExporter sdktrace.SpanExporter
	// TraceEndpoint is the OTLP/HTTP traces URL, such as "http://jaeger:4318/v1/traces".
	// Default "".
	TraceEndpoint string
	// TraceBatchTimeout is the longest a finished span waits before it is exported. Default 5s.
	TraceBatchTimeout time.Duration

	// Logger receives every service's logs; each record gets the attributes service and
	// instance, and trace_id and span_id when it is logged inside a span. Default:
	// slog.Default().
	Logger *slog.Logger
	// ShutdownTimeout bounds a graceful shutdown in Run. Default 10s.
	ShutdownTimeout time.Duration
}

// withDefaults returns c with its zero fields replaced by their defaults, or an error wrapping
// ErrInvalidConfig.
func (c Config) withDefaults() (Config, error) {
	if len(c.Services) == 0 {
		c.Services = slices.Clone(AllServices)
	}
	for _, s := range c.Services {
		if !slices.Contains(AllServices, s) {
			return c, fmt.Errorf("%w: unknown service %q", ErrInvalidConfig, s)
		}
	}
	instances := map[string]int{}
	for _, s := range AllServices {
		instances[s] = 2
		if s == GatewayService {
			instances[s] = 1
		}
		if n, ok := c.Instances[s]; ok {
			if n < 1 {
				return c, fmt.Errorf("%w: %d instances of %s", ErrInvalidConfig, n, s)
			}
			instances[s] = n
		}
	}
	c.Instances = instances
	c.Host = cmp.Or(c.Host, "127.0.0.1")
	if c.AdvertiseHost == "" {
		c.AdvertiseHost = c.Host
		if ip := net.ParseIP(c.Host); ip != nil && ip.IsUnspecified() {
			c.AdvertiseHost = "127.0.0.1"
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("%w: port %d", ErrInvalidConfig, c.Port)
	}
	c.GatewayAddr = cmp.Or(c.GatewayAddr, "127.0.0.1:0")
	c.HealthInterval = cmp.Or(c.HealthInterval, time.Second)
	c.CallTimeout = cmp.Or(c.CallTimeout, 2*time.Second)
	c.BreakerThreshold = cmp.Or(c.BreakerThreshold, 5)
	c.BreakerOpenTimeout = cmp.Or(c.BreakerOpenTimeout, 10*time.Second)
	c.TraceBatchTimeout = cmp.Or(c.TraceBatchTimeout, 5*time.Second)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for _, d := range []time.Duration{c.HealthInterval, c.CallTimeout, c.BreakerOpenTimeout, c.TraceBatchTimeout, c.ShutdownTimeout} {
		if d < 0 {
			return c, fmt.Errorf("%w: negative duration %v", ErrInvalidConfig, d)
		}
	}
	if c.BreakerThreshold < 0 {
		return c, fmt.Errorf("%w: negative BreakerThreshold", ErrInvalidConfig)
	}
	return c, nil
}

// runs reports whether the configuration runs service.
func (c Config) runs(service string) bool { return slices.Contains(c.Services, service) }

// The environment variables ConfigFromEnv reads. A deployment sets each of them (an empty
// value means the field's default).
const (
	EnvServices       = "SHOP_SERVICES"        // Services, comma-separated
	EnvInstances      = "SHOP_INSTANCES"       // Instances, the same number for each service
	EnvHost           = "SHOP_HOST"            // Host
	EnvPort           = "SHOP_PORT"            // Port
	EnvAdvertiseHost  = "SHOP_ADVERTISE_HOST"  // AdvertiseHost
	EnvGatewayAddr    = "SHOP_GATEWAY_ADDR"    // GatewayAddr
	EnvNATSURL        = "SHOP_NATS_URL"        // NATSURL
	EnvConsulAddr     = "SHOP_CONSUL_ADDR"     // ConsulAddr
	EnvTraceEndpoint  = "SHOP_OTLP_ENDPOINT"   // TraceEndpoint
	EnvHealthInterval = "SHOP_HEALTH_INTERVAL" // HealthInterval, a Go duration such as "2s"
)

// ConfigFromEnv returns the Config that the environment variables above describe, read through
// lookup (os.LookupEnv in a program). It is what every program under cmd/ runs with.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	get := func(key string) string {
		v, _ := lookup(key)
		return strings.TrimSpace(v)
	}
	var c Config
	var errs []error
	if v := get(EnvServices); v != "" {
		for _, s := range strings.Split(v, ",") {
			c.Services = append(c.Services, strings.TrimSpace(s))
		}
	}
	if v := get(EnvInstances); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%q: %w", ErrInvalidConfig, EnvInstances, v, err))
		}
		c.Instances = map[string]int{}
		for _, s := range AllServices {
			c.Instances[s] = n
		}
	}
	c.Host = get(EnvHost)
	if v := get(EnvPort); v != "" {
		var err error
		if c.Port, err = strconv.Atoi(v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%q: %w", ErrInvalidConfig, EnvPort, v, err))
		}
	}
	c.AdvertiseHost = get(EnvAdvertiseHost)
	c.GatewayAddr = get(EnvGatewayAddr)
	c.NATSURL = get(EnvNATSURL)
	c.ConsulAddr = get(EnvConsulAddr)
	c.TraceEndpoint = get(EnvTraceEndpoint)
	if v := get(EnvHealthInterval); v != "" {
		var err error
		if c.HealthInterval, err = time.ParseDuration(v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%q: %w", ErrInvalidConfig, EnvHealthInterval, v, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	_, err := c.withDefaults()
	return c, err
}
