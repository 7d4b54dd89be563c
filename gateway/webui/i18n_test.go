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

// TestNobodyReasonsAreTranslated keeps the console's reason table (fmt.mjs
// REASONS) in step with the words the escalator writes (alerting.Reasons),
// and every reason and escalation target in both catalogues, so that a
// zh-CN operator never reads "next_level: nobody on duty".
func TestNobodyReasonsAreTranslated(t *testing.T) {
	cats := catalogues(t)
	b, err := files.ReadFile("static/js/fmt.mjs")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]string{}
	for _, m := range regexp.MustCompile(`\[\s*'([^']+)',\s*'([a-z_]+)'\s*\]`).FindAllStringSubmatch(string(b), -1) {
		table[m[1]] = m[2]
	}
	for words, code := range alerting.Reasons {
		if table[words] != code {
			t.Errorf("fmt.mjs REASONS: want [%q, %q], have %q", words, code, table[words])
		}
		for _, lang := range []string{"zh-CN", "en"} {
			if _, ok := cats["console"][lang]["reason."+code]; !ok {
				t.Errorf("console.%s.json lacks reason.%s", lang, code)
			}
		}
	}
	if len(table) != len(alerting.Reasons) {
		t.Errorf("fmt.mjs REASONS has %d entries, alerting.Reasons %d", len(table), len(alerting.Reasons))
	}
	for _, target := range []string{alerting.TargetOperators, alerting.TargetSupervisor, alerting.TargetNextLevel,
		alerting.TargetTopLevel, alerting.TargetCounty, alerting.TargetEmergencyContacts, alerting.TargetOwner, "site"} {
		for _, lang := range []string{"zh-CN", "en"} {
			if _, ok := cats["console"][lang]["target."+target]; !ok {
				t.Errorf("console.%s.json lacks target.%s", lang, target)
			}
		}
	}
}
