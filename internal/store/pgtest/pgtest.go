// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb into a temporary
// directory, postgres on a free loopback port with trust authentication, stopped and removed
// afterwards. It needs the PostgreSQL server binaries (initdb, pg_ctl) and nothing else.
//
// Binaries are looked up in $PG_BIN, then on $PATH, then in the Debian and Ubuntu layout
// (/usr/lib/postgresql/<major>/bin, newest major first), which `apt-get install postgresql`
// provides. postgres refuses to run as root: when the tests run as root (as CI does), the cluster
// runs as the OS user "postgres", which the postgresql package creates; if it does not exist it is
// created with useradd as a system user without a home or a login shell.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries means the PostgreSQL server binaries were not found.
var ErrNoBinaries = errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found in $PG_BIN, $PATH or /usr/lib/postgresql/*/bin; install them (apt-get install -y postgresql) or set STORE_SKIP_POSTGRES=1 to skip the PostgreSQL tests explicitly")

const (
	runAsUser = "postgres"
	superuser = "tenantwire"
)

// Cluster is a running throwaway cluster.
type Cluster struct {
	dir, data, pgctl string
	port             int
	// opts are the server options of the running cluster, kept so that Resume restarts it on the
	// same port (the DSNs handed out stay valid).
	opts      string
	cred      *syscall.Credential
	databases atomic.Int64
}

// Start creates and starts a cluster; Stop removes it.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tenantwire-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, data: filepath.Join(dir, "data"), pgctl: filepath.Join(bin, "pg_ctl"), cred: cred}
	if err := c.start(ctx, bin); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, bin string) error {
	// The directory must be reachable by the cluster's user (os.MkdirTemp makes it 0700).
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return err
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	if out, err := c.run(ctx, filepath.Join(bin, "initdb"), "-D", c.data, "-U", superuser,
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A free port can be taken between choosing it and postgres binding it: retry a few times.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, c.dir)
		out, err := c.run(ctx, c.pgctl, "start", "-w", "-t", "60", "-D", c.data, "-l", filepath.Join(c.dir, "postgres.log"), "-o", opts)
		if err == nil {
			c.port, c.opts = port, opts
			return c.waitReady(ctx)
		}
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		lastErr = fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return lastErr
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.dsn("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres not accepting connections: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) dsn(database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.port, database)
}

// NewDatabase creates an empty database and returns its DSN.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d", c.databases.Add(1))
	conn, err := pgx.Connect(ctx, c.dsn("postgres"))
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return c.dsn(name), nil
}

// Halt kills the server as a crash or a failed node would (immediate shutdown, no checkpoint),
// keeping its data: clients see their connections refused until Resume.
func (c *Cluster) Halt(ctx context.Context) error {
	if out, err := c.run(ctx, c.pgctl, "stop", "-D", c.data, "-m", "immediate", "-w"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Resume starts a halted server again on the same port, after crash recovery of its data.
func (c *Cluster) Resume(ctx context.Context) error {
	if out, err := c.run(ctx, c.pgctl, "start", "-w", "-t", "60", "-D", c.data, "-l", filepath.Join(c.dir, "postgres.log"), "-o", c.opts); err != nil {
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s", err, out)
	}
	return c.waitReady(ctx)
}

// Stop stops the cluster and removes its directory.
func (c *Cluster) Stop() error {
	var err error
	if c.port != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, e := c.run(ctx, c.pgctl, "stop", "-D", c.data, "-m", "immediate", "-w"); e != nil {
			err = fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", e, out)
		}
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	// Keep the server out of the test's process group so a Ctrl-C does not leave it half-stopped;
	// Stop shuts it down.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd.CombinedOutput()
}

func findBinaries() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("PG_BIN"); dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("pgtest: PG_BIN=%s lacks initdb, pg_ctl or postgres", dir)
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// Resolve symlinks: initdb and postgres sit next to the real pg_ctl.
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func major(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// credential returns nil when not root, else the credential of the postgres user (created if
// missing).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(runAsUser)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--shell", "/usr/sbin/nologin", runAsUser).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root and no %q user; useradd failed: %w: %s", runAsUser, err, strings.TrimSpace(string(out)))
		}
		if u, err = user.Lookup(runAsUser); err != nil {
			return nil, err
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
