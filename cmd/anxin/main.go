// Command anxin runs the anxin gateway: embedded MQTT broker, alarm engine,
// state store and HTTP API. See the README for flags and the config file.
// SIGHUP reloads the config file (gateway.Reload); SIGINT and SIGTERM stop.
//
//	anxin [-config FILE] [-mqtt :1883] [-http :8080] [-data-dir ./anxin-data] [-log-format text|json]
//	anxin check-config FILE
//	anxin user add -name NAME -role admin|operator|installer [-data-dir DIR | -config FILE] < password
//	anxin user passwd [-data-dir DIR | -config FILE] NAME < password
//	anxin restore [-data-dir DIR] FILE
//	anxin --version
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // Asia/Shanghai and Asia/Urumqi on a minimal Pi image without zoneinfo

	"periph.io/x/host/v3"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/edge/fakepins"
	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/internal/buildinfo"
	"github.com/anxin-care/anxin/internal/sdnotify"
	"golang.org/x/term"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if buildinfo.IsVersionFlag(args) {
		fmt.Fprintln(stdout, buildinfo.Get().Line("anxin"))
		return 0
	}
	if len(args) >= 2 && args[0] == "user" && args[1] == "add" {
		return userAdd(args[2:], stdin, stderr)
	}
	if len(args) >= 2 && args[0] == "user" && args[1] == "passwd" {
		return userPasswd(args[2:], stdin, stderr)
	}
	if len(args) >= 1 && args[0] == "check-config" {
		return checkConfig(args[1:], stdout, stderr)
	}
	if len(args) >= 1 && args[0] == verifyCommand {
		return verifyState(args[1:], stderr)
	}
	if len(args) >= 1 && args[0] == "restore" {
		return restore(args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "anxin:", err)
		return 2
	}
	// fail reports a start-up failure in one line, a JSON one when the
	// log is JSON, so that a log shipper gets the reason too.
	fail := func(err error) int {
		if cfg.LogFormat == gateway.LogJSON {
			gateway.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat).Error("anxin: " + err.Error())
		} else {
			fmt.Fprintln(stderr, "anxin:", err)
		}
		return 1
	}
	if err := initPins(cfg); err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// Under systemd (Type=notify) the gateway says READY=1 and pings the
	// watchdog while it is healthy; elsewhere systemd is nil.
	systemd, err := sdnotify.FromEnv()
	if err != nil {
		return fail(err)
	}
	g, err := gateway.Start(ctx, cfg, gateway.Deps{Systemd: systemd})
	if err != nil {
		return fail(err)
	}
	defer g.Close()
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-hup:
			// The file is read again and the flags applied over it, as at
			// start; the gateway logs what it applied and what it could not.
			g.Reload(func() (gateway.Config, error) { return parseFlags(args, io.Discard) })
		}
	}
}

// initPins registers the GPIO drivers an edge box's pins come from: the
// host's (periph.io/x/host: the Pi's GPIO through the kernel), or the
// test-only fake pins when the config names edge.fake_pins_file. A gateway
// that is no edge box touches no GPIO.
func initPins(cfg gateway.Config) error {
	switch {
	case !cfg.Edge.Enabled():
		return nil
	case cfg.Edge.FakePinsFile != "":
		return fakepins.Register(cfg.Edge.FakePinsFile, cfg.Edge.Pins.PinNames())
	}
	if _, err := host.Init(); err != nil {
		return fmt.Errorf("edge: GPIO drivers: %w", err)
	}
	return nil
}

// parseFlags reads the config file, if any, then lets flags override it.
func parseFlags(args []string, stderr io.Writer) (gateway.Config, error) {
	fs := flag.NewFlagSet("anxin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML or JSON config file (see deploy/anxin.example.yaml)")
	mqttAddr := fs.String("mqtt", "", "MQTT listen address (default "+gateway.DefaultMQTTAddr+")")
	httpAddr := fs.String("http", "", "HTTP listen address (default "+gateway.DefaultHTTPAddr+")")
	dataDir := fs.String("data-dir", "", "data directory (default "+gateway.DefaultDataDir+")")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	logFormat := fs.String("log-format", "", "text or json (default text)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  anxin [flags]                 run the gateway\n"+
			"  anxin check-config FILE       check a config file without starting; exit 0 \"ok: FILE\", or 2 and its errors\n"+
			"  anxin user add -name NAME -role admin|operator|installer [-data-dir DIR | -config FILE]\n"+
			"                                create a user; the password is asked for (no echo) or read from a pipe\n"+
			"  anxin user passwd [-data-dir DIR | -config FILE] NAME\n"+
			"                                set a user's password (ends their sessions), the gateway stopped\n"+
			"  anxin restore [-data-dir DIR] FILE\n"+
			"                                restore a snapshot from anxinctl backup into an empty data directory\n"+
			"  anxin --version               print the version and exit\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return gateway.Config{}, err
	}
	if fs.NArg() > 0 {
		return gateway.Config{}, fmt.Errorf("unexpected argument %q (try -h)", fs.Arg(0))
	}
	var cfg gateway.Config
	if *configPath != "" {
		var err error
		if cfg, err = gateway.LoadConfig(*configPath); err != nil {
			return cfg, err
		}
	}
	override(&cfg, "mqtt_addr", &cfg.MQTTAddr, *mqttAddr)
	override(&cfg, "http_addr", &cfg.HTTPAddr, *httpAddr)
	override(&cfg, "data_dir", &cfg.DataDir, *dataDir)
	override(&cfg, "log_level", &cfg.LogLevel, *logLevel)
	override(&cfg, "log_format", &cfg.LogFormat, *logFormat)
	return cfg, cfg.Validate()
}

// override sets a field from its flag, if given, so that an error about it
// names the flag's value rather than a line of the file.
func override(cfg *gateway.Config, path string, field *string, flagValue string) {
	if flagValue != "" {
		*field = flagValue
		cfg.FromFlag(path)
	}
}

// checkConfig loads and validates a config file as the gateway would at
// start, without starting: exit 0 and "ok: FILE", or 2 and one line per
// mistake ("FILE:LINE:COL: PATH: what is wrong").
func checkConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: anxin check-config FILE")
		return 2
	}
	cfg, err := gateway.LoadConfig(args[0])
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "ok: %s\n", args[0])
	return 0
}

// userAdd creates a user directly in the data directory. It is how the
// first admin comes to exist: anxin has no built-in account. The gateway
// must not be running on that data directory at the same time.
func userAdd(args []string, stdin io.Reader, stderr io.Writer) int {
	fs := flag.NewFlagSet("anxin user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "user name (required)")
	role := fs.String("role", "operator", "admin, operator or installer")
	dataDir := fs.String("data-dir", gateway.DefaultDataDir, "data directory")
	configPath := fs.String("config", "", "the gateway's config file: its state section says where the state is (bbolt in the data directory, or postgres)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *name == "" {
		fmt.Fprintln(stderr, "anxin user add: -name is required")
		return 2
	}
	password, err := askPassword(stdin, stderr, fmt.Sprintf("Password for %s (at least %d characters): ", *name, state.MinPasswordLen))
	if err != nil {
		fmt.Fprintln(stderr, "anxin user add:", err)
		return 1
	}
	db, where, err := openState(fs, *configPath, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "anxin user add:", err)
		return 1
	}
	defer db.Close()
	if err := db.AddUser(*name, state.Role(*role), password, time.Now()); err != nil {
		fmt.Fprintln(stderr, "anxin user add:", err)
		return 1
	}
	fmt.Fprintf(stderr, "user %s (%s) created in %s\n", *name, *role, where)
	return 0
}

// openState opens the state a user command works on: the bbolt file in
// dataDir, or, given the gateway's config file, the state its state section
// names (a -data-dir given on the command line still wins over the file's
// data_dir). It returns where that is, for messages.
func openState(fs *flag.FlagSet, configPath, dataDir string) (*state.DB, string, error) {
	if configPath == "" {
		db, err := state.Open(dataDir)
		return db, dataDir, err
	}
	cfg, err := gateway.LoadConfig(configPath)
	if err != nil {
		return nil, "", err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data-dir" {
			cfg.DataDir = dataDir
		}
	})
	if cfg.DataDir == "" {
		cfg.DataDir = gateway.DefaultDataDir
	}
	db, err := state.OpenConfig(context.Background(), cfg.State, cfg.DataDir)
	return db, cfg.State.Where(cfg.DataDir), err
}

// userPasswd sets a user's password directly in the data directory: the
// way back in for an admin who forgot theirs. Their sessions end. The
// gateway must not be running on that data directory at the same time.
func userPasswd(args []string, stdin io.Reader, stderr io.Writer) int {
	fs := flag.NewFlagSet("anxin user passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", gateway.DefaultDataDir, "data directory")
	configPath := fs.String("config", "", "the gateway's config file: its state section says where the state is (bbolt in the data directory, or postgres)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// The name may come before the flags too: anxin user passwd admin -data-dir DIR.
	name := fs.Arg(0)
	if fs.NArg() >= 1 {
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return 2
		}
	}
	if name == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: anxin user passwd [-data-dir DIR] NAME")
		return 2
	}
	db, where, err := openState(fs, *configPath, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "anxin user passwd:", err)
		return 1
	}
	defer db.Close()
	if _, found, err := db.User(name); err != nil || !found {
		fmt.Fprintf(stderr, "anxin user passwd: no user %q in %s\n", name, where)
		return 1
	}
	password, err := askPassword(stdin, stderr, fmt.Sprintf("New password for %s (at least %d characters): ", name, state.MinPasswordLen))
	if err != nil {
		fmt.Fprintln(stderr, "anxin user passwd:", err)
		return 1
	}
	if err := db.SetPassword(name, password, "anxin user passwd", "", time.Now()); err != nil {
		fmt.Fprintln(stderr, "anxin user passwd:", err)
		return 1
	}
	fmt.Fprintf(stderr, "password of %s set in %s; their sessions have ended\n", name, where)
	return 0
}

// askPassword reads a password: from the terminal without echo, twice to
// catch a typo, or one line of standard input when it is a pipe.
func askPassword(stdin io.Reader, stderr io.Writer, prompt string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, prompt)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(stderr, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password on standard input")
		}
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
