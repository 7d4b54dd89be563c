package webui

import (
	"path"
	"regexp"
	"testing"
)

// firstLoadBudget is what the console may cost a browser on its first
// visit: the page, every stylesheet, script and module it loads
// (following static imports), and one language's catalogue.
const firstLoadBudget = 200 << 10

var (
	htmlRef   = regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
	importRef = regexp.MustCompile(`(?m)(?:^|;)\s*(?:import|export)\s[^'"]*?from\s*['"](\./[^'"]+)['"]|^\s*import\s*['"](\./[^'"]+)['"]`)
)

func TestConsoleFirstLoadIsSmall(t *testing.T) {
	for _, page := range []string{"index.html", "login.html"} {
		t.Run(page, func(t *testing.T) {
			seen := map[string]bool{}
			var total int
			var walk func(name string)
			walk = func(name string) {
				if seen[name] {
					return
				}
				seen[name] = true
				b, err := files.ReadFile("static/" + name)
				if err != nil {
					t.Fatalf("%s loads %s: %v", page, name, err)
				}
				total += len(b)
				switch path.Ext(name) {
				case ".html":
					for _, m := range htmlRef.FindAllStringSubmatch(string(b), -1) {
						walk(m[1][len("/static/"):])
					}
				case ".mjs":
					for _, m := range importRef.FindAllStringSubmatch(string(b), -1) {
						walk(path.Join(path.Dir(name), m[1]+m[2]))
					}
				}
			}
			walk(page)
			walk("i18n/console.zh-CN.json")
			t.Logf("%s: %d files, %d bytes (budget %d)", page, len(seen), total, firstLoadBudget)
			if total > firstLoadBudget {
				t.Errorf("%s first load is %d bytes, over the %d budget", page, total, firstLoadBudget)
			}
			if len(seen) < 4 {
				t.Errorf("found only %d files: is the scan broken?", len(seen))
			}
		})
	}
}
