package ctl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/apiclient"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestImportProgressOnTerminal: with standard output a terminal, import
// draws a progress bar and clears it before printing the result; on a pipe
// (every other test) it draws nothing.
func TestImportProgressOnTerminal(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := apiclient.New(g.BaseURL, "")
	if _, err := c.Login(context.Background(), "admin", gatewaytest.AdminPassword); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("id,kind\n")
	for i := range 200 {
		fmt.Fprintf(&b, "btn-%03d,call_button\n", i)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "fleet.csv")
	os.WriteFile(file, []byte(b.String()), 0o644)

	defer func(f func(any) bool) { isTerminal = f }(isTerminal)
	isTerminal = func(any) bool { return true }
	var out, errOut bytes.Buffer
	args := []string{"device", "import", file, "--passwords-out", filepath.Join(dir, "pw.csv"), "--server", g.BaseURL, "--token", c.Token}
	if code := Run(context.Background(), args, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	s := out.String()
	if !strings.Contains(s, "] 200/200 rows sent; checking and importing…") || !strings.Contains(s, "\r\033[K") ||
		!strings.HasSuffix(s, "Imported 200 devices. Passwords written to "+filepath.Join(dir, "pw.csv")+"; keep it safe, they are not shown again.\n") {
		t.Fatalf("output %q", s)
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"btn-1": 5, "青山村": 6, "12号": 4, "床1": 3, "Ayşe": 4, "ئايگۈل": 6, "": 0} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
	var buf bytes.Buffer
	writeTable(&buf, []string{"ID", "NAME", "AGE"}, [][]string{{"r-1", "王秀英", "85"}, {"r-22", "Li", "7"}})
	want := "ID    NAME    AGE\nr-1   王秀英  85\nr-22  Li      7\n"
	if buf.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
}
