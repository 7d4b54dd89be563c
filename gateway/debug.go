package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// DebugConfig is the `debug` section of the config: what a developer turns
// on to see where the time and the memory go. Everything is off by default.
type DebugConfig struct {
	// PprofListen, when set, serves Go's profiles (net/http/pprof, under
	// /debug/pprof/) on that address, apart from the API and without its
	// login. A port alone (":6060") binds the loopback address only:
	// profiles show the program's insides and are for the box's own user.
	PprofListen string `json:"pprof_listen"`
}

// mutexProfileFraction samples one contention event in this many while the
// pprof listener is on: cheap enough to leave running, enough to show
// which lock the messages wait on.
const mutexProfileFraction = 10

func (c DebugConfig) validate() error {
	if c.PprofListen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.PprofListen); err != nil {
		return fmt.Errorf("config debug.pprof_listen: %q: want host:port, e.g. \"127.0.0.1:6060\"", c.PprofListen)
	}
	return nil
}

// pprofAddr is where the pprof listener binds: the loopback address when
// addr names no host.
func (c DebugConfig) pprofAddr() string {
	host, port, _ := net.SplitHostPort(c.PprofListen)
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// startPprof serves the profiles when the config asks for them.
func (g *Gateway) startPprof() error {
	if g.cfg.Debug.PprofListen == "" {
		return nil
	}
	addr := g.cfg.Debug.pprofAddr()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug pprof listen %s: %w", addr, err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		g.log.Warn("pprof profiles served beyond this machine", "addr", ln.Addr().String())
	}
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	g.pprofLn = ln
	g.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.goRun(func() {
		if err := g.pprof.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("pprof server stopped", "err", err)
		}
	})
	g.log.Info("pprof profiles served", "addr", ln.Addr().String())
	return nil
}

// PprofAddr is the bound address of the pprof listener, "" when it is off.
func (g *Gateway) PprofAddr() string {
	if g.pprofLn == nil {
		return ""
	}
	return g.pprofLn.Addr().String()
}
