package notify

import (
	"net/url"
	"regexp"
	"strings"
)

// A receiver's error answer is shown in logs and on the alarm's timeline.
// Robots and proxies are known to echo the URL they were called on, which
// holds a WeCom key or a DingTalk access_token and sign, so an answer is
// scrubbed of every query value of the URL it came from and of anything
// that looks like a secret query or JSON field, and is bounded to
// MaxShownBody bytes before anyone sees it.

// MaxShownBody bounds what an error shows of a receiver's answer.
const MaxShownBody = 256

// redacted replaces a secret.
const redacted = "REDACTED"

// secretField matches key=value and "key":"value" pairs whose name says secret.
var secretField = regexp.MustCompile(`(?i)((?:^|[^a-z0-9_])(?:key|access_token|accesstoken|token|sign|signature|secret|password|timestamp)(?:=|"\s*:\s*"|'\s*:\s*'))([^&\s"'<>,;)]+)`)

// scrub removes from s every query value of the URL u (raw and escaped) and
// every secret-looking field, then bounds it to MaxShownBody bytes.
func scrub(s, u string) string {
	if pu, err := url.Parse(u); err == nil {
		for _, vs := range pu.Query() {
			for _, v := range vs {
				if len(v) < 4 { // too short to be a secret, and would mangle the text
					continue
				}
				s = strings.ReplaceAll(s, v, redacted)
				s = strings.ReplaceAll(s, url.QueryEscape(v), redacted)
			}
		}
	}
	s = secretField.ReplaceAllString(s, "${1}"+redacted)
	return strings.TrimSpace(truncate(s, MaxShownBody))
}
