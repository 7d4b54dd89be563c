package notify_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/alerting/notify"
)

const wecomKey = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"

// wecomServer plays the WeCom robot API: it checks the path, the key and
// the message, and answers with the errcode it is given.
func wecomServer(t *testing.T, answer string, got *[]byte) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/cgi-bin/webhook/send" || r.URL.Query().Get("key") != wecomKey {
			t.Errorf("%s %s", r.Method, r.URL.Path)
			_, _ = io.WriteString(w, `{"errcode":93000,"errmsg":"invalid webhook url"}`)
			return
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		*got, _ = io.ReadAll(r.Body)
		_, _ = io.WriteString(w, answer)
	}))
}

func newWeCom(t *testing.T, base, msgType string) *notify.WeCom {
	t.Helper()
	w, err := notify.NewWeCom(notify.WeComConfig{Key: wecomKey, BaseURL: base + "/cgi-bin/webhook/send", MsgType: msgType}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWeComTextMessage(t *testing.T) {
	var body []byte
	srv := wecomServer(t, `{"errcode":0,"errmsg":"ok"}`, &body)
	defer srv.Close()
	retry, err := newWeCom(t, srv.URL, "").Notify(t.Context(), note())
	if err != nil || retry {
		t.Fatalf("Notify: retry %v err %v", retry, err)
	}
	want := `{"msgtype":"text","text":{"content":"【安心 P1 生命安全】一键呼叫:已 45 秒无人响应(第 2 步升级)\n` +
		`位置:青山县 / 青山镇 / 青山村 / 12号 / 卧室\n老人:王秀英,82 岁,高血压\n时间:2026-11-23 10:00:00 触发,共 2 次\n` +
		`告警:A-mho2xa-1 设备 btn-12\n请立即处理:张伟 赵敏","mentioned_mobile_list":["13800000002","13800000003"]}}`
	if string(body) != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
}

func TestWeComMarkdownMessage(t *testing.T) {
	var body []byte
	srv := wecomServer(t, `{"errcode":0,"errmsg":"ok"}`, &body)
	defer srv.Close()
	if _, err := newWeCom(t, srv.URL, "markdown").Notify(t.Context(), note()); err != nil {
		t.Fatal(err)
	}
	var m struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Content string `json:"content"`
		} `json:"markdown"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.MsgType != "markdown" || !strings.HasPrefix(m.Markdown.Content, "### 【安心 P1 生命安全】一键呼叫") ||
		!strings.Contains(m.Markdown.Content, "\n> **位置**:青山县 / 青山镇 / 青山村 / 12号 / 卧室\n") {
		t.Errorf("markdown message %s", body)
	}
}

func TestWeComErrcodes(t *testing.T) {
	tests := []struct {
		answer string
		retry  bool
		code   int
	}{
		{`{"errcode":45009,"errmsg":"api freq out of limit"}`, true, 45009},
		{`{"errcode":-1,"errmsg":"system busy"}`, true, -1},
		{`{"errcode":93000,"errmsg":"invalid webhook url"}`, false, 93000},
		{`{"errcode":40008,"errmsg":"invalid message type"}`, false, 40008},
		{`<html>portal</html>`, true, 0},
	}
	for _, tt := range tests {
		var body []byte
		srv := wecomServer(t, tt.answer, &body)
		retry, err := newWeCom(t, srv.URL, "").Notify(t.Context(), note())
		srv.Close()
		var re *notify.RobotError
		if err == nil || retry != tt.retry || (tt.code != 0 && (!errors.As(err, &re) || re.Code != tt.code)) {
			t.Errorf("answer %s: retry %v err %v, want retry %v errcode %d", tt.answer, retry, err, tt.retry, tt.code)
		}
	}
}

func TestWeComErrorsHideTheKey(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens any more
	retry, err := newWeCom(t, base, "").Notify(t.Context(), note())
	if err == nil || !retry {
		t.Fatalf("Notify to a closed port: retry %v err %v, want a retryable error", retry, err)
	}
	if strings.Contains(err.Error(), wecomKey) {
		t.Fatalf("the error shows the robot's key: %v", err)
	}
}

func TestWeComTextIsCutAt2048Bytes(t *testing.T) {
	n := note()
	n.Location = []string{strings.Repeat("很长的地名", 200)}
	m := notify.NewWeComMessage(n, "text", nil)
	if c := m.Text.Content; len(c) > notify.WeComTextMax || !strings.HasSuffix(c, "…") || !strings.HasPrefix(c, "【安心") {
		t.Fatalf("content of %d bytes ending %q", len(c), c[len(c)-10:])
	}
}

func TestWeComConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  notify.WeComConfig
		want string
	}{
		{notify.WeComConfig{}, "wecom key is empty"},
		{notify.WeComConfig{Key: "k", BaseURL: "qyapi.weixin.qq.com"}, "wecom base_url: scheme must be http or https"},
		{notify.WeComConfig{Key: "k", MsgType: "news"}, `wecom msgtype "news": want text or markdown`},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v): %v, want %q", tt.cfg, err, tt.want)
		}
	}
}
