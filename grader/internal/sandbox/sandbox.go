// Package sandbox runs untrusted programs (the test binaries built from a student's checkout) so
// that they cannot change a verdict, reach a secret, outlive their run or write outside a
// throwaway place.
//
// With bubblewrap (Kind Bubblewrap) a run gets its own user, PID, mount, IPC, UTS and network
// namespaces (loopback only), a read-only view of the system's programs and libraries, a
// synthetic /etc, the files of its module tree bound read-only over a private tmpfs, a private
// /tmp, limits on tasks, file size and open files, a watchdog on memory, and the whole process
// tree killed when the run ends. Without it (Kind None, for a student's own machine) a run gets
// only a scrubbed environment, a fresh copy of its files, a time limit and its process group
// killed at the end.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kind says how runs are isolated.
type Kind string

// The kinds of isolation.
const (
	// Bubblewrap runs each program under bwrap, in its own namespaces.
	Bubblewrap Kind = "bubblewrap"
	// None runs each program as the grader's user, with a scrubbed environment and a time
	// limit only. Code run this way can read anything the grader's user can.
	None Kind = "none"
)

// Limits bound what one run may use. Each zero field takes its default.
type Limits struct {
	// Memory is the most resident memory, in bytes, that the run's processes may use
	// together; a watchdog kills the run above it. Default 4 GiB (the race detector needs
	// several times a program's own memory).
	Memory int64
	// Tasks is the most processes and threads the run may have (RLIMIT_NPROC).
	// Default 4096.
	Tasks int
	// FileSize is the largest file the run may write (RLIMIT_FSIZE). Default 256 MiB.
	FileSize int64
	// Scratch is the size of each of the run's private tmpfs mounts: /tmp and the writable
	// layer over its module tree. Default 512 MiB.
	Scratch int64
	// OpenFiles is the most files the run may hold open per process (RLIMIT_NOFILE).
	// Default 8192.
	OpenFiles int
}

func (l *Limits) defaults() {
	if l.Memory <= 0 {
		l.Memory = 4 << 30
	}
	if l.Tasks <= 0 {
		l.Tasks = 4096
	}
	if l.FileSize <= 0 {
		l.FileSize = 256 << 20
	}
	if l.Scratch <= 0 {
		l.Scratch = 512 << 20
	}
	if l.OpenFiles <= 0 {
		l.OpenFiles = 8192
	}
}

// Config configures a Sandbox.
type Config struct {
	// Kind is the isolation to use. Default: Bubblewrap when it works here (see Detect), else
	// None.
	Kind Kind
	// Limits bound each run.
	Limits Limits
	// Programs are the programs, by name, that runs may execute besides the system's own:
	// each is made available on PATH under its name (for example "consul" or "jaeger").
	// The values are host paths.
	Programs map[string]string
	// Staging is a directory the sandbox may create its own files in (the synthetic /etc).
	// Default: a new directory under os.TempDir, removed by Close.
	Staging string
}

// Sandbox runs programs in isolation. It is safe for concurrent use.
type Sandbox struct {
	kind     Kind
	limits   Limits
	programs map[string]string
	bwrap    string
	prlimit  string
	etc      string
	staging  string
	owned    bool // staging was created here and is removed by Close
	asNobody bool
}

// The user and group a sandboxed program runs as, inside its namespace and, when the grader
// runs as root, outside it too.
const nobody = 65534

// Paths inside a bubblewrap sandbox.
const (
	// WorkDir is where a run's module tree appears.
	WorkDir = "/work"
	// programDir holds the executable of the run and the extra programs.
	programDir = "/run/grader"
)

// New returns a sandbox configured by cfg.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	cfg.Limits.defaults()
	s := &Sandbox{kind: cfg.Kind, limits: cfg.Limits, programs: map[string]string{}, staging: cfg.Staging}
	for name, p := range cfg.Programs {
		if strings.ContainsAny(name, "/\x00") || name == "" || name == "." || name == ".." {
			return nil, fmt.Errorf("sandbox: bad program name %q", name)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		s.programs[name] = abs
	}
	if s.staging == "" {
		dir, err := os.MkdirTemp("", "workbook-sandbox-")
		if err != nil {
			return nil, err
		}
		s.staging, s.owned = dir, true
	}
	if s.kind == "" {
		s.kind = Bubblewrap
		if err := s.setupBubblewrap(ctx); err != nil {
			s.kind = None
		}
		return s, nil
	}
	if s.kind == Bubblewrap {
		if err := s.setupBubblewrap(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ErrUnavailable is wrapped by the error New returns when bubblewrap was asked for and cannot
// run here.
var ErrUnavailable = errors.New("bubblewrap sandbox unavailable")

func (s *Sandbox) setupBubblewrap(ctx context.Context) error {
	var err error
	if s.bwrap, err = exec.LookPath("bwrap"); err != nil {
		return fmt.Errorf("%w: bwrap is not installed (Debian and Ubuntu: apt-get install bubblewrap)", ErrUnavailable)
	}
	if s.prlimit, err = exec.LookPath("prlimit"); err != nil {
		return fmt.Errorf("%w: prlimit (util-linux) is not installed", ErrUnavailable)
	}
	s.asNobody = os.Geteuid() == 0
	if err := s.writeEtc(); err != nil {
		return err
	}
	if s.asNobody {
		if err := s.stagePrograms(); err != nil {
			return err
		}
	}
	// A probe run proves the namespaces can be made (hosted runners may forbid unprivileged
	// user namespaces).
	var out strings.Builder
	res, err := s.Run(ctx, Spec{Executable: "/bin/true", Stdout: &out, Timeout: 20 * time.Second, System: true})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit status %d", res.ExitCode)
	}
	if err != nil {
		return fmt.Errorf("%w: a probe run failed: %v: %s", ErrUnavailable, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// writeEtc writes the synthetic /etc runs see: loopback names, the nobody user, nothing else of
// the host's configuration.
func (s *Sandbox) writeEtc() error {
	s.etc = filepath.Join(s.staging, "etc")
	files := map[string]string{
		"hosts":         "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"passwd":        "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n",
		"group":         "root:x:0:\nnogroup:x:65534:\n",
		"nsswitch.conf": "hosts: files\npasswd: files\ngroup: files\n",
		"hostname":      "sandbox\n",
	}
	if err := os.MkdirAll(s.etc, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(s.etc, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return MakeReadable(s.staging)
}

// stagePrograms gives the sandbox's user a copy of every extra program it could not reach where
// it lies (for example a program installed under /root/go/bin, which only root may traverse):
// bwrap, run as that user, must be able to open what it binds.
func (s *Sandbox) stagePrograms() error {
	dir := filepath.Join(s.staging, "programs")
	for name, p := range s.programs {
		if reachableByOthers(p) {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		dst := filepath.Join(dir, name)
		if err := copyExecutable(dst, p); err != nil {
			return fmt.Errorf("sandbox: staging the program %s: %w", name, err)
		}
		s.programs[name] = dst
	}
	return MakeReadable(s.staging)
}

// reachableByOthers reports whether a user other than the owner can execute the file at p:
// every directory above it traversable, the file itself readable and executable by others.
func reachableByOthers(p string) bool {
	info, err := os.Stat(p)
	if err != nil || info.Mode().Perm()&0o005 != 0o005 {
		return false
	}
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil || info.Mode().Perm()&0o001 == 0 {
			return false
		}
		if filepath.Dir(d) == d {
			return true
		}
	}
}

// copyExecutable copies the file at src to dst, executable by every user.
func copyExecutable(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Kind returns the isolation this sandbox provides.
func (s *Sandbox) Kind() Kind { return s.kind }

// Close removes what the sandbox created.
func (s *Sandbox) Close() error {
	if s.owned {
		return os.RemoveAll(s.staging)
	}
	return nil
}

// Spec describes one run.
type Spec struct {
	// Root is the host directory of the run's module tree, or empty for none. Under
	// bubblewrap its files appear read-only at WorkDir over a private tmpfs (new files can be
	// written there and vanish with the run); without bubblewrap the run gets a fresh copy.
	Root string
	// Dir is the working directory, relative to Root.
	Dir string
	// Executable is the host path of the program to run.
	Executable string
	// Args are the program's arguments (without the program's name).
	Args []string
	// Env is the program's complete environment, besides the sandbox's own HOME, TMPDIR,
	// PATH and LANG.
	Env []string
	// ExtraFiles are open files passed to the program as descriptors 3, 4, ….
	ExtraFiles []*os.File
	// Stdout receives everything the program writes to standard output and standard error.
	Stdout io.Writer
	// Timeout bounds the run's wall-clock time. Default 2 minutes.
	Timeout time.Duration
	// System marks Executable as a program of the system (under /usr), run where it lies
	// rather than bound into the sandbox.
	System bool
}

// Result is the outcome of one run.
type Result struct {
	// ExitCode is the program's exit status, or -1 when it was killed.
	ExitCode int
	// Killed says why the run was stopped, if it was: "timeout" or "memory".
	Killed string
	// Elapsed is the run's wall-clock time.
	Elapsed time.Duration
}

// Why a run was killed.
const (
	KilledTimeout = "timeout"
	KilledMemory  = "memory"
)

// Run runs spec in the sandbox. Every process the run started is dead when Run returns. The
// error is non-nil only when the run could not be made (a program missing, the sandbox
// failing); whatever the program does is reported in Result.
func (s *Sandbox) Run(ctx context.Context, spec Spec) (Result, error) {
	if spec.Timeout <= 0 {
		spec.Timeout = 2 * time.Minute
	}
	if spec.Stdout == nil {
		spec.Stdout = io.Discard
	}
	switch s.kind {
	case Bubblewrap:
		return s.runBubblewrap(ctx, spec)
	default:
		return s.runDirect(ctx, spec)
	}
}

// baseEnv is the environment every run starts from.
func (s *Sandbox) baseEnv(home, path string) []string {
	return []string{"HOME=" + home, "TMPDIR=" + home, "PATH=" + path, "LANG=C.UTF-8", "USER=nobody"}
}

func (s *Sandbox) runBubblewrap(ctx context.Context, spec Spec) (Result, error) {
	args, err := s.bwrapArgs(spec)
	if err != nil {
		return Result{}, err
	}
	lim := s.limits
	pre := []string{
		fmt.Sprintf("--nproc=%d", lim.Tasks),
		fmt.Sprintf("--fsize=%d", lim.FileSize),
		fmt.Sprintf("--nofile=%d", lim.OpenFiles),
		"--core=0",
		"--", s.bwrap,
	}
	cmd := exec.Command(s.prlimit, append(pre, args...)...)
	// bwrap starts from an empty environment: nothing of the grader's reaches the sandbox,
	// not even through /proc/1/environ inside it.
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stdout
	cmd.ExtraFiles = spec.ExtraFiles
	cmd.SysProcAttr = sysProcAttr(s.asNobody)
	return supervise(ctx, cmd, spec.Timeout, s.limits.Memory)
}

// bwrapArgs returns bwrap's command line for spec.
func (s *Sandbox) bwrapArgs(spec Spec) ([]string, error) {
	a := []string{
		"--unshare-all", "--die-with-parent", "--new-session",
		"--uid", fmt.Sprint(nobody), "--gid", fmt.Sprint(nobody),
		"--hostname", "sandbox",
		"--clearenv",
	}
	// The system's programs and libraries, read-only; not /usr/local, /home, /root, /opt,
	// /srv, /var or the grader's files.
	for _, d := range []string{"/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/libexec", "/usr/share/zoneinfo"} {
		a = append(a, "--ro-bind-try", d, d)
	}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if target, err := os.Readlink(d); err == nil {
			a = append(a, "--symlink", target, d)
		} else if _, err := os.Stat(d); err == nil {
			a = append(a, "--ro-bind", d, d)
		}
	}
	a = append(a,
		"--ro-bind", s.etc, "/etc",
		"--proc", "/proc",
		"--dev", "/dev",
		"--size", fmt.Sprint(s.limits.Scratch), "--tmpfs", "/tmp",
		"--dir", programDir+"/bin",
	)
	path := programDir + "/bin:/usr/bin:/bin"
	names := make([]string, 0, len(s.programs))
	for name := range s.programs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a = append(a, "--ro-bind", s.programs[name], programDir+"/bin/"+name)
	}
	exe := spec.Executable
	if !spec.System {
		exe = programDir + "/" + filepath.Base(spec.Executable)
		a = append(a, "--ro-bind", spec.Executable, exe)
	}
	cwd := "/tmp"
	if spec.Root != "" {
		binds, err := treeBinds(spec.Root, WorkDir)
		if err != nil {
			return nil, err
		}
		a = append(a, "--size", fmt.Sprint(s.limits.Scratch), "--tmpfs", WorkDir)
		a = append(a, binds...)
		cwd = filepath.ToSlash(filepath.Join(WorkDir, spec.Dir))
	}
	a = append(a, "--chdir", cwd)
	for _, kv := range append(s.baseEnv("/tmp", path), spec.Env...) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		a = append(a, "--setenv", k, v)
	}
	a = append(a, "--", exe)
	return append(a, spec.Args...), nil
}

// maxTreeFiles bounds the files of a module tree bound into one run.
const maxTreeFiles = 5000

// treeBinds returns the bwrap arguments that recreate the tree at root under dest: each
// directory made, each regular file bound read-only.
func treeBinds(root, dest string) ([]string, error) {
	var a []string
	n := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		target := filepath.ToSlash(filepath.Join(dest, rel))
		switch {
		case d.IsDir():
			if rel != "." {
				a = append(a, "--dir", target)
			}
		case d.Type().IsRegular():
			if n++; n > maxTreeFiles {
				return fmt.Errorf("sandbox: more than %d files to bind", maxTreeFiles)
			}
			a = append(a, "--ro-bind", p, target)
		}
		return nil
	})
	return a, err
}

// runDirect runs spec without isolation: a fresh copy of its tree, a scrubbed environment, a
// time limit, and its process group killed at the end.
func (s *Sandbox) runDirect(ctx context.Context, spec Spec) (Result, error) {
	scratch, err := os.MkdirTemp(s.staging, "run-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(scratch)
	home := filepath.Join(scratch, "tmp")
	if err := os.Mkdir(home, 0o700); err != nil {
		return Result{}, err
	}
	cwd := home
	if spec.Root != "" {
		work := filepath.Join(scratch, "work")
		if err := copyTree(work, spec.Root); err != nil {
			return Result{}, err
		}
		cwd = filepath.Join(work, spec.Dir)
	}
	bin := filepath.Join(scratch, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		return Result{}, err
	}
	for name, p := range s.programs {
		if err := os.Symlink(p, filepath.Join(bin, name)); err != nil {
			return Result{}, err
		}
	}
	cmd := exec.Command(spec.Executable, spec.Args...)
	cmd.Env = append(s.baseEnv(home, bin+string(os.PathListSeparator)+"/usr/bin:/bin"), spec.Env...)
	cmd.Dir = cwd
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stdout
	cmd.ExtraFiles = spec.ExtraFiles
	cmd.SysProcAttr = sysProcAttr(false)
	return supervise(ctx, cmd, spec.Timeout, 0)
}

// supervise starts cmd in its own process group, kills the group when ctx ends, the timeout
// passes or (with a memory limit) the group's resident memory exceeds it, and waits for it.
func supervise(ctx context.Context, cmd *exec.Cmd, timeout time.Duration, memory int64) (Result, error) {
	// A descendant that keeps the output pipe open must not hold the run past its end.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("sandbox: %w", err)
	}
	var (
		mu     sync.Mutex
		killed string
	)
	kill := func(why string) {
		mu.Lock()
		if killed == "" {
			killed = why
		}
		mu.Unlock()
		killGroup(cmd.Process.Pid)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				kill(KilledTimeout)
				return
			case <-timer.C:
				kill(KilledTimeout)
				return
			case <-tick.C:
				if memory > 0 && treeRSS(cmd.Process.Pid) > memory {
					kill(KilledMemory)
					return
				}
			}
		}
	})
	err := cmd.Wait()
	close(done)
	wg.Wait()
	// Whatever is left of the group goes with it.
	killGroup(cmd.Process.Pid)
	res := Result{ExitCode: cmd.ProcessState.ExitCode(), Killed: killed, Elapsed: time.Since(start)}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		return res, fmt.Errorf("sandbox: %w", err)
	}
	return res, nil
}

// copyTree copies the regular files of src into dst.
func copyTree(dst, src string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// MakeReadable makes dir and everything below it readable by any user, so that a sandbox
// running as another user can bind its files. The directories above dir must be traversable.
func MakeReadable(dir string) error {
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm() | 0o444
		if d.IsDir() || mode&0o100 != 0 {
			mode |= 0o111
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		return err
	}
	// The directories above are not ours to change: they must already be traversable.
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("sandbox: %s is not traversable by other users (set TMPDIR to a directory that is, such as /tmp)", d)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}
