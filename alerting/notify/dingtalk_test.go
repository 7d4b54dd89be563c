package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting/notify"
)

const (
	dingToken  = "b1b2c3d4e5f6-access-token"
	dingSecret = "SECthis-is-a-test-secret"
)

// dingServer plays DingTalk's robot API with 加签 on: it recomputes the
// signature from the timestamp and its own copy of the secret and refuses
// a wrong one, or a timestamp more than an hour off, as DingTalk does.
func dingServer(t *testing.T, now time.Time, answer string, got *[]byte) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/robot/send" || q.Get("access_token") != dingToken {
			_, _ = io.WriteString(w, `{"errcode":300001,"errmsg":"token is not exist"}`)
			return
		}
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || now.Sub(time.UnixMilli(ts)).Abs() > time.Hour {
			_, _ = io.WriteString(w, `{"errcode":310000,"errmsg":"invalid timestamp"}`)
			return
		}
		m := hmac.New(sha256.New, []byte(dingSecret))
		m.Write([]byte(q.Get("timestamp") + "\n" + dingSecret))
		sign := base64.StdEncoding.EncodeToString(m.Sum(nil))
		// The sign travels URL-encoded: "+", "/" and "=" escaped.
		if q.Get("sign") != sign || !strings.Contains(r.URL.RawQuery, "sign="+url.QueryEscape(sign)) {
			_, _ = io.WriteString(w, `{"errcode":310000,"errmsg":"sign not match"}`)
			return
		}
		*got, _ = io.ReadAll(r.Body)
		_, _ = io.WriteString(w, answer)
	}))
}

func newDingTalk(t *testing.T, base, secret, keyword string, now time.Time) *notify.DingTalk {
	t.Helper()
	d, err := notify.NewDingTalk(notify.DingTalkConfig{AccessToken: dingToken, Secret: secret, Keyword: keyword,
		BaseURL: base + "/robot/send", Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDingTalkSignedTextMessage(t *testing.T) {
	now := raisedAt.Add(45 * time.Second)
	var body []byte
	srv := dingServer(t, now, `{"errcode":0,"errmsg":"ok"}`, &body)
	defer srv.Close()
	retry, err := newDingTalk(t, srv.URL, dingSecret, "", now).Notify(t.Context(), note())
	if err != nil || retry {
		t.Fatalf("Notify: retry %v err %v", retry, err)
	}
	want := `{"msgtype":"text","text":{"content":"【安心 P1 生命安全】一键呼叫:已 45 秒无人响应(第 2 步升级)\n` +
		`位置:青山县 / 青山镇 / 青山村 / 12号 / 卧室\n老人:王秀英,82 岁,高血压\n时间:2026-11-23 10:00:00 触发,共 2 次\n` +
		`告警:A-mho2xa-1 设备 btn-12\n请立即处理:@13800000002 @13800000003"},` +
		`"at":{"atMobiles":["13800000002","13800000003"],"isAtAll":false}}`
	if string(body) != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
}

func TestDingTalkWrongSecretIsRefused(t *testing.T) {
	now := raisedAt
	var body []byte
	srv := dingServer(t, now, `{"errcode":0,"errmsg":"ok"}`, &body)
	defer srv.Close()
	retry, err := newDingTalk(t, srv.URL, "SECnot-the-secret", "", now).Notify(t.Context(), note())
	var re *notify.RobotError
	if !errors.As(err, &re) || re.Code != 310000 || retry {
		t.Fatalf("Notify with a wrong secret: retry %v err %v, want errcode 310000 and no retry", retry, err)
	}
	if strings.Contains(err.Error(), dingToken) || strings.Contains(err.Error(), "not-the-secret") {
		t.Fatalf("the error shows a secret: %v", err)
	}
	// A clock more than an hour off is refused too.
	_, err = newDingTalk(t, srv.URL, dingSecret, "", now.Add(-2*time.Hour)).Notify(t.Context(), note())
	if !errors.As(err, &re) || re.Code != 310000 {
		t.Fatalf("Notify with a stale timestamp: %v, want errcode 310000", err)
	}
}

func TestDingTalkSign(t *testing.T) {
	// Computed with DingTalk's own Python sample for the same inputs.
	const want = "NkacC61mETTYp7O9Zp6aCDO7zbXe/+aoMo91VLOeqog="
	if got := notify.DingTalkSign(1577262236757, dingSecret); got != want {
		t.Fatalf("DingTalkSign = %s, want %s", got, want)
	}
}

func TestDingTalkErrcodesAndKeyword(t *testing.T) {
	now := raisedAt
	tests := []struct {
		answer string
		retry  bool
		code   int
	}{
		{`{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`, true, 130101},
		{`{"errcode":410100,"errmsg":"send too fast"}`, true, 410100},
		{`{"errcode":-1,"errmsg":"system busy"}`, true, -1},
		{`{"errcode":400102,"errmsg":"robot disabled"}`, false, 400102},
	}
	for _, tt := range tests {
		var body []byte
		srv := dingServer(t, now, tt.answer, &body)
		retry, err := newDingTalk(t, srv.URL, dingSecret, "报警", now).Notify(t.Context(), note())
		srv.Close()
		var re *notify.RobotError
		if !errors.As(err, &re) || re.Code != tt.code || retry != tt.retry {
			t.Errorf("answer %s: retry %v err %v, want retry %v", tt.answer, retry, err, tt.retry)
		}
		if !strings.Contains(string(body), `"content":"报警 【安心`) {
			t.Errorf("the keyword is not in front: %s", body)
		}
	}
}

func TestDingTalkMarkdownMessage(t *testing.T) {
	m := notify.NewDingTalkMessage(note(), "markdown", "", nil)
	if m.MsgType != "markdown" || m.Markdown.Title != "【安心 P1 生命安全】一键呼叫:已 45 秒无人响应(第 2 步升级)" ||
		!strings.Contains(m.Markdown.Text, "@13800000002 @13800000003") || m.At.AtMobiles[1] != "13800000003" {
		t.Fatalf("markdown message %+v %+v", m.Markdown, m.At)
	}
}
