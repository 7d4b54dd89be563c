package ctl_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/apiclient"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// The installer's rough edges of issue 12: the README's walkthrough as
// written, contexts, full-width lists, GBK files, tables that fit, the
// user commands and passwords that are never echoed, and "did you mean".

var (
	anxinOnce sync.Once
	anxinBin  string
	anxinErr  error
)

// anxinBinary builds the gateway's own binary once, for the tests that run
// it as an operator would.
func anxinBinary(t *testing.T) string {
	t.Helper()
	anxinOnce.Do(func() {
		anxinBin = filepath.Join(filepath.Dir(bin), "anxin")
		out, err := exec.Command("go", "build", "-o", anxinBin, "github.com/anxin-care/anxin/cmd/anxin").CombinedOutput()
		if err != nil {
			anxinErr = fmt.Errorf("go build anxin: %v\n%s", err, out)
		}
	})
	if anxinErr != nil {
		t.Fatal(anxinErr)
	}
	return anxinBin
}

// startAnxin runs the anxin binary on dataDir with loopback ports and
// returns its API's base URL; it is stopped when the test ends.
func startAnxin(t *testing.T, dataDir string) string {
	t.Helper()
	cmd := exec.Command(anxinBinary(t), "-mqtt", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data-dir", dataDir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		started := regexp.MustCompile(`anxin gateway started.* http=(\S+)`)
		for sc.Scan() {
			if m := started.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stderr) // never block the gateway on a full pipe
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("anxin did not start within 30 s")
		return ""
	}
}

// walkthrough returns the README's blocks marked <!-- walkthrough -->,
// joined in order.
func walkthrough(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	lines := strings.Split(string(readme), "\n")
	blocks := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "<!-- walkthrough -->" {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j >= len(lines) || !strings.HasPrefix(lines[j], "```") {
			t.Fatalf("README line %d: <!-- walkthrough --> is not followed by a fenced block", i+1)
		}
		for j++; j < len(lines) && !strings.HasPrefix(lines[j], "```"); j++ {
			script.WriteString(lines[j] + "\n")
		}
		blocks++
		i = j
	}
	if blocks == 0 {
		t.Fatal("the README has no block marked <!-- walkthrough -->")
	}
	return script.String()
}

// TestReadmeWalkthrough runs the README's anxinctl walkthrough as written,
// with the real anxinctl, against the real anxin binary started on an
// empty data directory whose first admin was made by `anxin user add`.
// The only change is the gateway's address: the README's
// http://gateway:8080 is this test's loopback port.
func TestReadmeWalkthrough(t *testing.T) {
	script := walkthrough(t)
	if !strings.Contains(script, "http://gateway:8080") || !strings.Contains(script, "choose-a-long-password") {
		t.Fatalf("the walkthrough no longer logs in to http://gateway:8080 as admin:\n%s", script)
	}
	dataDir := filepath.Join(t.TempDir(), "anxin-data")
	add := exec.Command(anxinBinary(t), "user", "add", "-name", "admin", "-role", "admin", "-data-dir", dataDir)
	add.Stdin = strings.NewReader("choose-a-long-password\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("anxin user add: %v\n%s", err, out)
	}
	base := startAnxin(t, dataDir)
	script = strings.ReplaceAll(script, "http://gateway:8080", base)

	work, home := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-x", "-c", script)
	cmd.Dir = work
	// No $ANXIN_SERVER: the commands after login must find the gateway in
	// the context login saved.
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH"), "TZ=Asia/Shanghai", "LANG=C.UTF-8"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's walkthrough failed: %v\nstdout:\n%s\nstderr (bash -x):\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{
		"Logged in to " + base + " as admin (admin)",
		"新疆 [xj] region · 0 devices\n└── 青山县 [qs-county] county",
		"        └── 床1 [home-12-bed1] bed · 0 devices", // the whole tree, region to bed
		"Added resident wang-xy 王秀英 (born 1941), living at 新疆 / 青山县 / 青山镇 / 青山村 / 12号.",
		"Device btn-101 (call_button) provisioned at 新疆 / 青山县 / 青山镇 / 青山村 / 12号 / 卧室 / 床1 for 王秀英.",
		"Device btn-102 (call_button) now in service",
		"2 rows checked: 2 good, 0 bad rows; nothing imported (dry run).",
		"Imported 2 devices. Passwords written to passwords.csv",
		"Added installer li-gong.",
		"li-gong  installer",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, out.String())
		}
	}
	// Three contacts: the full-width ones were read too; two conditions from one 、 list.
	c := &cli{t: t, home: home, env: cmd.Env}
	var r struct {
		Resident apiclient.Resident
	}
	rs := c.ok("resident", "show", "wang-xy", "-o", "json")
	if err := json.Unmarshal([]byte(rs), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Resident.Contacts) != 3 || r.Resident.Contacts[1].Name != "李强" || len(r.Resident.Conditions) != 2 {
		t.Errorf("wang-xy as the walkthrough made her: %+v", r.Resident)
	}
	if pw, err := os.ReadFile(filepath.Join(work, "passwords.csv")); err != nil || !strings.Contains(string(pw), "smk-12,") {
		t.Errorf("passwords.csv: %v\n%s", err, pw)
	}
}

// env of a user of anxinctl with no $ANXIN_SERVER: only contexts tell the gateway.
func contextCLI(t *testing.T) *cli {
	home := t.TempDir()
	return &cli{t: t, home: home, env: []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"PATH=" + os.Getenv("PATH"), "TZ=Asia/Shanghai", "LANG=C.UTF-8"}}
}

func (c *cli) loginTo(server, password string, extra ...string) string {
	c.t.Helper()
	out, errOut, code := c.run("admin\n"+password+"\n", append([]string{"--server", server, "login"}, extra...)...)
	if code != 0 {
		c.t.Fatalf("login to %s: exit %d\n%s%s", server, code, out, errOut)
	}
	return out
}

// TestContexts: an installer serving two gateways logs in to each once;
// commands go to the current one, --context picks another for one command,
// use-context switches; nothing is sent to 127.0.0.1:8080 by mistake.
func TestContexts(t *testing.T) {
	town := gatewaytest.Start(t, gateway.Config{})
	county := gatewaytest.Start(t, gateway.Config{})
	c := contextCLI(t)

	if _, errOut, code := c.run("", "device", "ls"); code != 1 || !strings.Contains(errOut, "not logged in to http://127.0.0.1:8080") {
		t.Fatalf("before any login: exit %d %s", code, errOut)
	}
	c.loginTo(town.BaseURL, gatewaytest.AdminPassword, "--context", "town")
	c.ok("device", "add", "btn-town", "--kind", "call_button") // to the town, without --server
	out := c.loginTo(county.BaseURL, gatewaytest.AdminPassword)
	if !strings.Contains(out, "now the current one") {
		t.Fatalf("login output: %s", out)
	}
	c.ok("device", "add", "smk-county", "--kind", "smoke_detector")
	if _, ok := town.Registry().Get("btn-town"); !ok {
		t.Fatal("btn-town did not reach the town's gateway")
	}
	if _, ok := county.Registry().Get("smk-county"); !ok {
		t.Fatal("smk-county did not reach the county's gateway (the current context)")
	}
	if _, ok := town.Registry().Get("smk-county"); ok {
		t.Fatal("smk-county went to the town")
	}

	countyName := strings.TrimPrefix(county.BaseURL, "http://")
	if got := strings.TrimSpace(c.ok("config", "current-context")); got != countyName {
		t.Fatalf("current-context = %q, want %q", got, countyName)
	}
	ls := c.ok("config", "get-contexts")
	for _, want := range []string{"CURRENT", "town", town.BaseURL, countyName, county.BaseURL, "admin"} {
		if !strings.Contains(ls, want) {
			t.Errorf("get-contexts lacks %q:\n%s", want, ls)
		}
	}
	if !regexp.MustCompile(`(?m)^\*\s+` + regexp.QuoteMeta(countyName) + " ").MatchString(ls) {
		t.Errorf("get-contexts does not mark %s current:\n%s", countyName, ls)
	}
	if ids := c.ok("device", "ls", "--context", "town", "-o", "json"); !strings.Contains(ids, "btn-town") || strings.Contains(ids, "smk-county") {
		t.Fatalf("device ls --context town:\n%s", ids)
	}
	c.ok("config", "use-context", "town")
	if ids := c.ok("device", "ls"); !strings.Contains(ids, "btn-town") {
		t.Fatalf("device ls after use-context town:\n%s", ids)
	}
	if _, errOut, code := c.run("", "config", "use-context", "twon"); code != 1 || !strings.Contains(errOut, `did you mean "town"?`) {
		t.Fatalf("use-context twon: exit %d %s", code, errOut)
	}
	fi, err := os.Stat(filepath.Join(c.home, ".config", "anxin", "anxinctl.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("contexts file: %v, want mode 0600", err)
	}
	// Logging out of one gateway leaves the other's session.
	c.ok("logout")
	if _, _, code := c.run("", "device", "ls"); code != 1 {
		t.Fatal("device ls on the town after logout succeeded")
	}
	c.ok("device", "ls", "--context", countyName)
	c.ok("config", "delete-context", "town")
	if ls := c.ok("config", "get-contexts"); strings.Contains(ls, "town") {
		t.Fatalf("get-contexts after delete-context town:\n%s", ls)
	}
}

// TestFullWidthLists: contacts and conditions typed with a Chinese input
// method (，；、 and full-width spaces) are read as their ASCII forms.
func TestFullWidthLists(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	c.seedTree()
	for _, tt := range []struct {
		name, id  string
		args      []string
		contacts  []apiclient.Contact
		condition []string
	}{
		{"full-width commas", "r-1", []string{"--contact", "李明，13800001234，儿子"},
			[]apiclient.Contact{{Name: "李明", Phone: "13800001234", Relation: "儿子"}}, nil},
		{"several contacts in one, with full-width spaces", "r-2",
			[]string{"--contact", "李明，13800001234，儿子；　李红、139 0000 5678、女儿　", "--condition", "高血压、糖尿病，心脏病"},
			[]apiclient.Contact{{Name: "李明", Phone: "13800001234", Relation: "儿子"}, {Name: "李红", Phone: "139 0000 5678", Relation: "女儿"}},
			[]string{"高血压", "糖尿病", "心脏病"}},
		{"ASCII as before", "r-3", []string{"--contact", "a,13800001234,son", "--condition", "x"},
			[]apiclient.Contact{{Name: "a", Phone: "13800001234", Relation: "son"}}, []string{"x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r apiclient.Resident
			c.jsonOut(&r, append([]string{"resident", "add", tt.id, "--name", "王", "--born", "1950", "--home", "qs-12-bedroom"}, tt.args...)...)
			if fmt.Sprint(r.Contacts) != fmt.Sprint(tt.contacts) || fmt.Sprint(r.Conditions) != fmt.Sprint(tt.condition) && tt.condition != nil {
				t.Fatalf("got contacts %+v conditions %q, want %+v %q", r.Contacts, r.Conditions, tt.contacts, tt.condition)
			}
		})
	}
	if _, errOut, code := c.run("", "resident", "add", "r-9", "--name", "x", "--born", "1950", "--home", "qs-12", "--contact", "李明，138"); code != 2 ||
		!strings.Contains(errOut, "want NAME,PHONE,RELATION") {
		t.Fatalf("a contact of two fields: exit %d %s", code, errOut)
	}
}

// TestDidYouMean: a mistyped command, sub-command or flag is answered with
// the nearest (Levenshtein distance at most 2), and nothing runs.
func TestDidYouMean(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"devcie", "ls"}, `unknown command "devcie"; did you mean "device"?`},
		{[]string{"device", "lss"}, `unknown command "device lss"; did you mean "device ls"?`},
		{[]string{"site", "tre"}, `did you mean "site tree"?`},
		{[]string{"device", "ls", "--sitee", "x"}, "unknown flag --sitee; did you mean --site?"},
		{[]string{"device", "add", "x", "--knd", "call_button"}, "unknown flag --knd; did you mean --kind?"},
		{[]string{"device", "ls", "--sever", "http://x"}, "did you mean --server?"},
		{[]string{"help", "devise"}, `did you mean "device"?`},
		{[]string{"hlep"}, `did you mean "help"?`},
		{[]string{"config", "use-contxt", "x"}, `did you mean "config use-context"?`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := c.run("", tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.says) {
				t.Fatalf("exit %d, stderr:\n%s\nwant 2 saying %q", code, errOut, tt.says)
			}
		})
	}
	if _, errOut, _ := c.run("", "frobnicate"); strings.Contains(errOut, "did you mean") {
		t.Fatalf("a word near nothing got a suggestion:\n%s", errOut)
	}
}

// TestImportGBK: a CSV file saved as GBK (Excel on a Chinese Windows) is
// decoded and imported with its Chinese text intact; UTF-8 with a byte
// order mark too; a file in neither is refused with a hint.
func TestImportGBK(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	c.seedTree()
	dir := t.TempDir()
	text := "id,kind,site,location\nbtn-gbk,call_button,qs-12-bed1,床头左侧\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(gbk, "床头") {
		t.Fatal("the fixture is not GBK")
	}
	file := filepath.Join(dir, "gbk.csv")
	os.WriteFile(file, []byte(gbk), 0o644)
	out, errOut, code := c.run("", "device", "import", file, "--passwords-out", filepath.Join(dir, "pw.csv"))
	if code != 0 || !strings.Contains(errOut, "read it as GBK") || !strings.Contains(out, "Imported 1 device") {
		t.Fatalf("GBK import: exit %d\n%s%s", code, out, errOut)
	}
	var d apiclient.Device
	c.jsonOut(&d, "device", "show", "btn-gbk")
	if raw := c.ok("device", "show", "btn-gbk"); !strings.Contains(raw, "床头左侧") {
		t.Fatalf("device show after a GBK import:\n%s", raw)
	}

	bom := filepath.Join(dir, "bom.csv")
	os.WriteFile(bom, []byte("\uFEFF"+strings.ReplaceAll(text, "btn-gbk", "btn-bom")), 0o644)
	if out, errOut, code := c.run("", "device", "import", bom, "--passwords-out", filepath.Join(dir, "pw2.csv")); code != 0 || strings.Contains(errOut, "GBK") {
		t.Fatalf("UTF-8 with BOM: exit %d\n%s%s", code, out, errOut)
	}

	junk := filepath.Join(dir, "junk.csv")
	os.WriteFile(junk, []byte("id,kind\n\xff\xfe\xff,call_button\n"), 0o644)
	if _, errOut, code := c.run("", "device", "import", junk); code != 1 || !strings.Contains(errOut, `save the file as "CSV UTF-8"`) {
		t.Fatalf("neither UTF-8 nor GBK: exit %d %s", code, errOut)
	}
}

// pty runs anxinctl (or another program) under a real pseudo-terminal
// (util-linux script(1)) of the given width; lines typed go in with send
// after the expected prompt is on the screen.
type pty struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	mu    sync.Mutex
	out   bytes.Buffer
	done  chan error
	width int
}

func startPTY(t *testing.T, env []string, cols int, args ...string) *pty {
	t.Helper()
	script := gatewaytest.NeedBinary(t, "script")
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	line := fmt.Sprintf("stty cols %d rows 40; exec %s", cols, strings.Join(quoted, " "))
	p := &pty{t: t, done: make(chan error, 1), width: cols}
	p.cmd = exec.Command(script, "-qfec", line, "/dev/null")
	p.cmd.Env = env
	var err error
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				p.done <- p.cmd.Wait()
				return
			}
		}
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

func (p *pty) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.out.String(), "\r", "")
}

// expect waits until the screen shows s.
func (p *pty) expect(s string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.screen(), s) {
		if time.Now().After(deadline) {
			p.t.Fatalf("the terminal never showed %q:\n%s", s, p.screen())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *pty) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the program to end and returns its exit status.
func (p *pty) wait() int {
	p.t.Helper()
	select {
	case err := <-p.done:
		p.in.Close()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		p.t.Fatalf("still running after 30 s:\n%s", p.screen())
		return -1
	}
}

// TestTablesFitTheTerminal: on an 80-column terminal every line of
// `device ls`, `site ls` and `resident ls` fits, the widest free-text column
// cut with …, Chinese characters counted two columns; -o wide cuts nothing;
// -o yaml is YAML.
func TestTablesFitTheTerminal(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	c.seedTree()
	c.ok("site", "add", "qs-12-long", "--name", "一间名字非常非常非常非常非常非常非常长的房间", "--level", "room", "--parent", "qs-12")
	c.ok("device", "add", "btn-1", "--kind", "call_button", "--site", "qs-12-long", "--resident", "r-0012")
	c.ok("device", "add", "smk-1", "--kind", "smoke_detector", "--site", "qs-12-kitchen")

	for _, args := range [][]string{{"device", "ls"}, {"site", "ls"}, {"resident", "ls"}, {"audit"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			p := startPTY(t, c.env, 80, append([]string{bin}, args...)...)
			if code := p.wait(); code != 0 {
				t.Fatalf("exit %d:\n%s", code, p.screen())
			}
			screen := strings.TrimRight(p.screen(), "\n")
			t.Logf("on an 80-column terminal:\n%s", screen)
			for _, line := range strings.Split(screen, "\n") {
				if w := displayWidth(line); w > 80 {
					t.Errorf("a line %d columns wide on an 80-column terminal:\n%s", w, line)
				}
			}
			if args[0] != "audit" && !strings.Contains(screen, "…") {
				t.Errorf("nothing was cut:\n%s", screen)
			}
			// Wide: nothing cut, every column, under the same terminal.
			p = startPTY(t, c.env, 80, append([]string{bin}, append(args, "-o", "wide")...)...)
			p.wait()
			if strings.Contains(p.screen(), "…") {
				t.Errorf("-o wide cut a column:\n%s", p.screen())
			}
		})
	}
	// Not a terminal (a pipe): nothing is cut, for scripts and grep.
	if ls := c.ok("device", "ls"); strings.Contains(ls, "…") || !strings.Contains(ls, "一间名字非常非常非常非常非常非常非常长的房间") {
		t.Errorf("device ls into a pipe:\n%s", ls)
	}
	if wide := c.ok("device", "ls", "-o", "wide"); !strings.Contains(wide, "VENDOR") || !strings.Contains(wide, "LOCATION") {
		t.Errorf("device ls -o wide lacks the extra columns:\n%s", wide)
	}
	var list []map[string]any
	if err := yaml.Unmarshal([]byte(c.ok("device", "ls", "-o", "yaml")), &list); err != nil || len(list) != 2 || list[0]["id"] == nil {
		t.Fatalf("device ls -o yaml: %v %v", err, list)
	}
}

// TestUsers: an admin adds, lists, disables, enables, resets and removes a
// person through anxinctl; disabling ends the person's session at once;
// each change is in the audit trail.
func TestUsers(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	admin := newCLI(t, g)
	admin.login()
	out, errOut, code := admin.run("first-password-1\n", "user", "add", "li-gong", "--role", "installer", "--display-name", "李工")
	if code != 0 || !strings.Contains(out, "Added installer li-gong.") {
		t.Fatalf("user add: exit %d\n%s%s", code, out, errOut)
	}
	if ls := admin.ok("user", "ls"); !strings.Contains(ls, "li-gong") || !strings.Contains(ls, "李工") || !strings.Contains(ls, "enabled") {
		t.Fatalf("user ls:\n%s", ls)
	}
	li := newCLI(t, g)
	liLogin := func(password string) (string, int) {
		out, errOut, code := li.run("li-gong\n"+password+"\n", "login")
		return out + errOut, code
	}
	if out, code := liLogin("first-password-1"); code != 0 {
		t.Fatalf("li-gong login: %s", out)
	}
	li.ok("device", "ls")

	// li-gong follows a device live; disabling them ends that stream too.
	admin.ok("device", "add", "btn-w", "--kind", "call_button")
	watch := exec.Command(bin, "device", "watch", "btn-w")
	watch.Env = li.env
	var watchErr bytes.Buffer
	watch.Stderr = &watchErr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Process.Kill() })
	watchDone := make(chan error, 1)
	go func() { watchDone <- watch.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); g.Metric("anxin_stream_clients") < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("li-gong's watch never connected: %s", watchErr.String())
		}
	}

	if out := admin.ok("user", "disable", "li-gong"); !strings.Contains(out, "their sessions have ended") {
		t.Fatalf("disable: %s", out)
	}
	select {
	case err := <-watchDone:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(watchErr.String(), "log in first") {
			t.Fatalf("li-gong's watch after disable: %v\n%s", err, watchErr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("li-gong's watch still runs 15 s after they were disabled: %s", watchErr.String())
	}
	if n := g.Metric("anxin_stream_clients"); n != 0 {
		t.Fatalf("%v stream clients after disable, want 0", n)
	}
	if _, errOut, code := li.run("", "device", "ls"); code != 1 || !strings.Contains(errOut, "log in first") {
		t.Fatalf("li-gong's session after disable: exit %d %s", code, errOut)
	}
	if out, code := liLogin("first-password-1"); code != 1 || !strings.Contains(out, "disabled") {
		t.Fatalf("a disabled user's login: exit %d %s", code, out)
	}
	if ls := admin.ok("user", "ls"); !strings.Contains(ls, "disabled") {
		t.Fatalf("user ls after disable:\n%s", ls)
	}
	admin.ok("user", "enable", "li-gong")
	if out, code := liLogin("first-password-1"); code != 0 {
		t.Fatalf("login after enable: %s", out)
	}

	// An admin's reset ends the person's sessions; the new password works.
	if _, errOut, code := admin.run("second-password-2\n", "user", "passwd", "li-gong"); code != 0 {
		t.Fatalf("user passwd li-gong: exit %d %s", code, errOut)
	}
	if _, _, code := li.run("", "device", "ls"); code != 1 {
		t.Fatal("li-gong's session survived an admin's password reset")
	}
	if out, code := liLogin("first-password-1"); code != 1 {
		t.Fatalf("the old password still works: %s", out)
	}
	if out, code := liLogin("second-password-2"); code != 0 {
		t.Fatalf("the new password: %s", out)
	}
	// One's own: current, then new; this session stays.
	if _, errOut, code := li.run("wrong-password\nthird-password-3\n", "user", "passwd"); code != 1 || !strings.Contains(errOut, "current password is wrong") {
		t.Fatalf("own passwd with a wrong current one: exit %d %s", code, errOut)
	}
	if _, errOut, code := li.run("second-password-2\nshort\n", "user", "passwd"); code != 1 || !strings.Contains(errOut, "at least 10 characters") {
		t.Fatalf("own passwd too short: exit %d %s", code, errOut)
	}
	if out, errOut, code := li.run("second-password-2\nthird-password-3\n", "user", "passwd"); code != 0 || !strings.Contains(out, "Password changed") {
		t.Fatalf("own passwd: exit %d %s%s", code, out, errOut)
	}
	li.ok("device", "ls")
	if _, errOut, code := li.run("", "user", "ls"); code != 1 || !strings.Contains(errOut, "role installer may not") {
		t.Fatalf("an installer's user ls: exit %d %s", code, errOut)
	}

	if _, errOut, code := admin.run("", "user", "disable", "admin"); code != 1 || !strings.Contains(errOut, "yourself") {
		t.Fatalf("disable yourself: exit %d %s", code, errOut)
	}
	admin.ok("user", "rm", "li-gong")
	if _, _, code := li.run("", "device", "ls"); code != 1 {
		t.Fatal("a removed user's session survived")
	}
	if out, code := liLogin("third-password-3"); code != 1 {
		t.Fatalf("a removed user logs in: %s", out)
	}
	var audit []apiclient.AuditEntry
	admin.jsonOut(&audit, "audit", "--object", "user:li-gong")
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
		if strings.Contains(string(a.After)+string(a.Before), "password") && strings.Contains(string(a.After)+string(a.Before), "third-password") {
			t.Errorf("the audit trail holds a password: %+v", a)
		}
	}
	if got := strings.Join(actions, " "); got != "remove password password enable disable add" {
		t.Errorf("audit of user:li-gong, newest first: %s", got)
	}
}

// TestPasswordsAreNotEchoed runs the real binaries under a pseudo-terminal,
// types the password after the prompt, and checks that the terminal never
// shows it: anxinctl user add and login, and anxin user passwd on a data
// directory.
func TestPasswordsAreNotEchoed(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	const secret = "never-on-the-screen-42"

	p := startPTY(t, c.env, 100, bin, "user", "add", "wang-op", "--role", "operator")
	p.expect("Password for wang-op")
	p.send(secret)
	p.expect("Again:")
	p.send(secret)
	if code := p.wait(); code != 0 || !strings.Contains(p.screen(), "Added operator wang-op.") {
		t.Fatalf("user add on a terminal: exit %d\n%s", code, p.screen())
	}
	if strings.Contains(p.screen(), secret) {
		t.Fatalf("the terminal showed the password:\n%s", p.screen())
	}

	other := newCLI(t, g)
	p = startPTY(t, other.env, 100, bin, "login")
	p.expect("User: ")
	p.send("wang-op")
	p.expect("Password: ")
	p.send(secret)
	if code := p.wait(); code != 0 || !strings.Contains(p.screen(), "Logged in to") || strings.Contains(p.screen(), secret) {
		t.Fatalf("login on a terminal: exit %d\n%s", code, p.screen())
	}
	if !strings.Contains(p.screen(), "wang-op") {
		t.Fatalf("the user name typed was not echoed (it should be):\n%s", p.screen())
	}

	// Two different passwords: nothing changes.
	p = startPTY(t, c.env, 100, bin, "user", "passwd", "wang-op")
	p.expect("New password for wang-op")
	p.send("first-try-password")
	p.expect("Again:")
	p.send("second-try-password")
	if code := p.wait(); code != 1 || !strings.Contains(p.screen(), "the two passwords differ") {
		t.Fatalf("user passwd with two different passwords: exit %d\n%s", code, p.screen())
	}
}

// TestAnxinUserPasswd: on the gateway machine, with the gateway stopped,
// `anxin user passwd NAME` sets a password in the data directory, from a
// pipe or from a terminal without echo.
func TestAnxinUserPasswd(t *testing.T) {
	anxin := anxinBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	add := exec.Command(anxin, "user", "add", "-name", "admin", "-role", "admin", "-data-dir", dataDir)
	add.Stdin = strings.NewReader("forgotten-password\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("anxin user add: %v\n%s", err, out)
	}
	set := exec.Command(anxin, "user", "passwd", "-data-dir", dataDir, "admin")
	set.Stdin = strings.NewReader("remembered-password\n")
	if out, err := set.CombinedOutput(); err != nil || !strings.Contains(string(out), "password of admin set") {
		t.Fatalf("anxin user passwd from a pipe: %v\n%s", err, out)
	}
	nobody := exec.Command(anxin, "user", "passwd", "-data-dir", dataDir, "nobody")
	nobody.Stdin = strings.NewReader("whatever-password\n")
	if out, err := nobody.CombinedOutput(); err == nil || !strings.Contains(string(out), `no user "nobody"`) {
		t.Fatalf("anxin user passwd nobody: %v\n%s", err, out)
	}

	const secret = "typed-on-the-pi-console"
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
	p := startPTY(t, env, 100, anxin, "user", "passwd", "admin", "-data-dir", dataDir)
	p.expect("New password for admin")
	p.send(secret)
	p.expect("Again:")
	p.send(secret)
	if code := p.wait(); code != 0 || strings.Contains(p.screen(), secret) {
		t.Fatalf("anxin user passwd on a terminal: exit %d\n%s", code, p.screen())
	}

	base := startAnxin(t, dataDir)
	c := contextCLI(t)
	if out, errOut, code := c.run("admin\nremembered-password\n", "--server", base, "login"); code != 1 {
		t.Fatalf("the password before the last still logs in: %s%s", out, errOut)
	}
	c.loginTo(base, secret)
}
