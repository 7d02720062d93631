package system

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The deployment checks. There is no Docker here: deploy/compose.yaml is loaded and validated
// with compose-go, the library Docker Compose itself is built on, and what it refers to is
// looked for on disk.

// infrastructure names the images of the infrastructure services, by what they start with.
var infrastructure = map[string]string{
	"consul":     "hashicorp/consul:",
	"nats":       "nats:",
	"jaeger":     "jaegertracing/",
	"prometheus": "prom/prometheus:",
}

// checkCompose validates deploy/compose.yaml: it loads; every image is pinned; every service
// has a health check; each service built here has a build context holding the module, a
// Dockerfile, and a CMD build argument naming a main package; the environment sets every
// variable ConfigFromEnv reads, and joins the containers through NATS, Consul and the OTLP
// endpoint; there are two gateways and two instances of each service; no two services publish
// the same host port; and Prometheus scrapes every container of the system.
func checkCompose(t *testing.T) {
	file := filepath.Join("deploy", "compose.yaml")
	require.FileExists(t, file, "the Compose file")
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory("deploy"), cli.WithName("shop"),
		cli.WithResolvedPaths(true))
	require.NoError(t, err)
	project, err := opts.LoadProject(t.Context())
	require.NoError(t, err, "compose-go must load %s", file)

	running := map[string]int{}
	var targets []string
	hostPorts := map[string]string{}
	for name, svc := range project.Services {
		hc := svc.HealthCheck
		assert.True(t, hc != nil && !hc.Disable && len(hc.Test) > 0 && hc.Test[0] != "NONE", "service %s needs a health check", name)
		for _, p := range svc.Ports {
			if p.Published == "" {
				continue
			}
			key := fmt.Sprintf("%s:%s/%s", p.HostIP, p.Published, p.Protocol)
			if other, ok := hostPorts[key]; ok {
				assert.Fail(t, "host port clash", "services %s and %s both publish %s", other, name, key)
			}
			hostPorts[key] = name
		}
		if svc.Build == nil {
			assert.True(t, pinned(svc.Image), "service %s: image %q must be pinned to a version (a tag other than latest, or a digest)", name, svc.Image)
			continue
		}
		cfg, port := checkBuiltService(t, name, svc)
		n := 1
		if svc.Deploy != nil && svc.Deploy.Replicas != nil {
			n = *svc.Deploy.Replicas
		}
		for _, s := range cfg.Services {
			running[s] += n * cfg.Instances[s]
		}
		host := cmp.Or(svc.Hostname, name)
		targets = append(targets, net.JoinHostPort(host, port))
	}
	for name, prefix := range infrastructure {
		assert.True(t, slices.ContainsFunc(slices.Collect(maps.Values(project.Services)), func(s types.ServiceConfig) bool {
			return strings.HasPrefix(s.Image, prefix)
		}), "the infrastructure needs %s (an image %s…)", name, prefix)
	}
	for _, s := range AllServices {
		assert.GreaterOrEqual(t, running[s], 2, "instances of %s in the deployment (two of each, two gateways)", s)
	}
	scraped := prometheusTargets(t, project)
	for _, target := range targets {
		assert.Contains(t, scraped, target, "Prometheus must scrape %s/metrics", target)
	}
}

// checkBuiltService checks a service built from this repository and returns its Config and the
// port it listens on.
func checkBuiltService(t *testing.T, name string, svc types.ServiceConfig) (Config, string) {
	t.Helper()
	root := svc.Build.Context
	assert.FileExists(t, filepath.Join(root, "go.mod"), "service %s: the build context %s must be the module's root", name, root)
	dockerfile := filepath.Join(root, cmp.Or(svc.Build.Dockerfile, "Dockerfile"))
	if filepath.IsAbs(svc.Build.Dockerfile) {
		dockerfile = svc.Build.Dockerfile
	}
	data, err := os.ReadFile(dockerfile)
	if assert.NoError(t, err, "service %s: its Dockerfile", name) {
		assert.Contains(t, string(data), "ARG CMD", "service %s: the Dockerfile builds the command named by the build argument CMD", name)
	}
	cmdArg := svc.Build.Args["CMD"]
	if assert.NotNil(t, cmdArg, "service %s: the build argument CMD names its command", name) {
		assert.True(t, isMainPackage(filepath.Join(root, *cmdArg)), "service %s: CMD %q must be a main package under the build context", name, *cmdArg)
	}

	env := map[string]string{}
	for k, v := range svc.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	var read []string
	cfg, err := ConfigFromEnv(func(key string) (string, bool) {
		read = append(read, key)
		v, ok := env[key]
		return v, ok
	})
	require.NoError(t, err, "service %s: ConfigFromEnv with its environment", name)
	for _, key := range read {
		assert.Contains(t, env, key, "service %s: the code reads %s, which its environment must set", name, key)
	}
	require.Len(t, cfg.Services, 1, "service %s: a container runs one service (%s)", name, EnvServices)
	assert.NotEmpty(t, cfg.NATSURL, "service %s: %s, the NATS server of the deployment", name, EnvNATSURL)
	assert.NotEmpty(t, cfg.ConsulAddr, "service %s: %s, the Consul agent of the deployment", name, EnvConsulAddr)
	assert.NotEmpty(t, cfg.TraceEndpoint, "service %s: %s, Jaeger's OTLP endpoint", name, EnvTraceEndpoint)
	port := fmt.Sprint(cfg.Port)
	if cfg.Services[0] == GatewayService {
		_, port, err = net.SplitHostPort(cfg.GatewayAddr)
		assert.NoError(t, err, "service %s: %s must be host:port", name, EnvGatewayAddr)
	} else {
		assert.NotZero(t, cfg.Port, "service %s: a known port (%s)", name, EnvPort)
		assert.NotEmpty(t, cfg.AdvertiseHost, "service %s: the address other containers reach it at (%s)", name, EnvAdvertiseHost)
	}
	assert.Equal(t, 1, cfg.Instances[cfg.Services[0]], "service %s: one instance per container (%s)", name, EnvInstances)
	return cfg, port
}

// prometheusTargets returns the targets (host:port) that the prometheus.yml mounted into the
// Prometheus service scrapes on /metrics.
func prometheusTargets(t *testing.T, project *types.Project) []string {
	t.Helper()
	var source string
	for _, svc := range project.Services {
		if !strings.HasPrefix(svc.Image, infrastructure["prometheus"]) {
			continue
		}
		for _, v := range svc.Volumes {
			if v.Target == "/etc/prometheus/prometheus.yml" {
				source = v.Source
			}
		}
	}
	require.NotEmpty(t, source, "the Prometheus service mounts its configuration at /etc/prometheus/prometheus.yml")
	data, err := os.ReadFile(source)
	require.NoError(t, err, "Prometheus's configuration")
	var cfg struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(data, &cfg), "Prometheus's configuration must be YAML")
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			continue
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	return targets
}

// pinned reports whether image names a version: a digest, or a tag other than latest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	return ok && tag != "" && tag != "latest"
}

// isMainPackage reports whether dir holds a Go file of package main.
func isMainPackage(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil && (strings.HasPrefix(string(data), "package main\n") || strings.Contains(string(data), "\npackage main\n")) {
			return true
		}
	}
	return false
}

// startPrometheus starts the prometheus found at bin, scraping every instance of sys and its
// gateway every 250ms, and returns the base URL of its API.
func startPrometheus(t *testing.T, bin string, sys *System) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 250ms\n  scrape_timeout: 250ms\nscrape_configs:\n")
	b.WriteString("  - job_name: gateway\n    static_configs:\n      - targets: ['" + strings.TrimPrefix(sys.GatewayURL(), "http://") + "']\n")
	for service, instances := range byService(sys) {
		b.WriteString("  - job_name: " + service + "\n    static_configs:\n      - targets:\n")
		for _, in := range instances {
			b.WriteString("          - '" + strings.TrimPrefix(in.URL, "http://") + "'\n")
		}
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(config, []byte(b.String()), 0o600))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	out, exited := startProgram(t, bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	base := "http://" + addr
	waitProgram(t, exited, out, "prometheus", func() bool { return status(base+"/-/ready") == 200 })
	return base
}
