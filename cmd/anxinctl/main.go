// Command anxinctl is the installer's and admin's tool over anxin's HTTP
// API; see gateway/ctl, which holds all of it, and `anxinctl help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/anxin-care/anxin/gateway/ctl"
	"github.com/anxin-care/anxin/internal/buildinfo"
)

func main() {
	if buildinfo.IsVersionFlag(os.Args[1:]) {
		fmt.Println(buildinfo.Get().Line("anxinctl"))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
