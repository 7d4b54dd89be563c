package notify

import (
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	const u = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=6f1c2d3e-aaaa-bbbb"
	for _, c := range []struct{ name, in, secret string }{
		{"echoed url", "invalid url " + u, "6f1c2d3e-aaaa-bbbb"},
		{"escaped echo", "bad: key%3D6f1c2d3e-aaaa-bbbb then key=6f1c2d3e-aaaa-bbbb", "6f1c2d3e-aaaa-bbbb"},
		{"other access_token", "see https://oapi.dingtalk.com/robot/send?access_token=abcdef0123&sign=xyz%2Fq%3D", "abcdef0123"},
		{"sign", "sign=xyz%2Fq%3D&timestamp=1732345678123", "xyz%2Fq"},
		{"json secret", `{"secret": "SECabc123", "errmsg": "no"}`, "SECabc123"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := scrub(c.in, u); strings.Contains(got, c.secret) {
				t.Fatalf("scrub(%q) = %q still holds %q", c.in, got, c.secret)
			}
		})
	}
	if got := scrub(strings.Repeat("x", 10_000), u); len(got) > MaxShownBody {
		t.Fatalf("scrub of a 10 kB body is %d bytes", len(got))
	}
	if got := scrub("errcode 93000: invalid webhook url, hint: [1732345678_123]", u); got != "errcode 93000: invalid webhook url, hint: [1732345678_123]" {
		t.Fatalf("scrub changed a harmless message: %q", got)
	}
}
