package webui

import (
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/alerting"
)

// catalogues reads static/i18n/<page>.<lang>.json: page → lang → key → text.
func catalogues(t *testing.T) map[string]map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]map[string]string{}
	names, err := fs.Glob(files, "static/i18n/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		page, lang, ok := strings.Cut(strings.TrimSuffix(path.Base(name), ".json"), ".")
		if !ok {
			t.Fatalf("%s: want <page>.<lang>.json", name)
		}
		b, _ := files.ReadFile(name)
		var cat map[string]string
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out[page] == nil {
			out[page] = map[string]map[string]string{}
		}
		out[page][lang] = cat
	}
	return out
}

// TestCataloguesHaveTheSameKeys: every key of one language is in the other,
// with text.
func TestCataloguesHaveTheSameKeys(t *testing.T) {
	for page, langs := range catalogues(t) {
		t.Run(page, func(t *testing.T) {
			for _, want := range []string{"zh-CN", "en"} {
				if langs[want] == nil {
					t.Fatalf("no %s.%s.json", page, want)
				}
			}
			for lang, cat := range langs {
				for other, ocat := range langs {
					for k, v := range cat {
						if strings.TrimSpace(v) == "" {
							t.Errorf("%s.%s: %q has no text", page, lang, k)
						}
						if _, ok := ocat[k]; !ok {
							t.Errorf("%s.%s has %q, %s has not", page, lang, k, other)
						}
					}
				}
			}
		})
	}
}

var (
	attrKey = regexp.MustCompile(`data-i18n(?:-[a-z-]+)?="([^"]+)"`)
	callKey = regexp.MustCompile(`\bt\(\s*['"]([^'"]+)['"]\s*[,)]`)
	// dataKey finds keys scripts set on built elements: i18n: 'key'.
	dataKey = regexp.MustCompile(`\bi18n[A-Za-z]*:\s*['"]([^'"]+)['"]\s*[,}]`)
)

// pageOf says which catalogue a file's text comes from: wall* files the
// wall's, every other the console's.
func pageOf(name string) string {
	if strings.HasPrefix(path.Base(name), "wall") {
		return "wall"
	}
	return "console"
}

// TestEveryUsedKeyIsInTheCatalogues walks the HTML and JS for the keys
// they use (data-i18n attributes and t('…') calls), and the key families
// scripts build from the alarm vocabulary (states, outcomes).
func TestEveryUsedKeyIsInTheCatalogues(t *testing.T) {
	cats := catalogues(t)
	used := map[string][]string{} // page → keys
	fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !slices.Contains([]string{".html", ".mjs", ".js"}, path.Ext(p)) {
			return err
		}
		b, _ := files.ReadFile(p)
		for _, re := range []*regexp.Regexp{attrKey, callKey, dataKey} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				used[pageOf(p)] = append(used[pageOf(p)], m[1])
			}
		}
		return nil
	})
	for _, s := range []alerting.State{alerting.Raised, alerting.Acknowledged, alerting.Dispatched, alerting.Resolved, alerting.Cancelled} {
		used["console"] = append(used["console"], "state."+string(s))
	}
	for _, o := range alerting.Outcomes {
		used["console"] = append(used["console"], "outcome."+o)
	}
	if len(used["console"]) < 20 {
		t.Fatalf("found only %d keys in the console's files: is the scan broken?", len(used["console"]))
	}
	for page, keys := range used {
		for _, lang := range []string{"zh-CN", "en"} {
			for _, k := range keys {
				if _, ok := cats[page][lang][k]; !ok {
					t.Errorf("%s.%s.json lacks %q", page, lang, k)
				}
			}
		}
	}
}
