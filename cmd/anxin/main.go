// Command anxin runs the anxin gateway: embedded MQTT broker, alarm engine,
// state store and HTTP API. See the README for flags and the config file.
//
//	anxin [-config FILE] [-mqtt :1883] [-http :8080] [-data-dir ./anxin-data] [-log-format text|json]
//	anxin check-config FILE
//	anxin user add -name NAME -role admin|operator|installer [-data-dir DIR] < password
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

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/internal/buildinfo"
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
	if len(args) >= 1 && args[0] == "check-config" {
		return checkConfig(args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "anxin:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := gateway.Run(ctx, cfg); err != nil {
		if cfg.LogFormat == gateway.LogJSON {
			// A log shipper reading JSON lines gets the reason as one too.
			gateway.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat).Error("anxin: " + err.Error())
		} else {
			fmt.Fprintln(stderr, "anxin:", err)
		}
		return 1
	}
	return 0
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
			"  anxin user add -name NAME -role admin|operator|installer [-data-dir DIR]\n"+
			"                                create a user; the password is read from standard input\n"+
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
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *name == "" {
		fmt.Fprintln(stderr, "anxin user add: -name is required")
		return 2
	}
	fmt.Fprintf(stderr, "Password for %s (at least %d characters), then Enter: ", *name, state.MinPasswordLen)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(stderr, "\nanxin user add:", err)
		return 1
	}
	fmt.Fprintln(stderr)
	db, err := state.Open(*dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "anxin user add:", err)
		return 1
	}
	defer db.Close()
	if err := db.AddUser(*name, state.Role(*role), strings.TrimRight(line, "\r\n"), time.Now()); err != nil {
		fmt.Fprintln(stderr, "anxin user add:", err)
		return 1
	}
	fmt.Fprintf(stderr, "user %s (%s) created in %s\n", *name, *role, *dataDir)
	return 0
}
