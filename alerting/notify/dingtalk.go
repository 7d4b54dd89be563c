package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// DefaultDingTalkURL is the DingTalk custom robot's send endpoint.
const DefaultDingTalkURL = "https://oapi.dingtalk.com/robot/send"

// DingTalk errcodes worth another attempt: -1 system busy, 130101 and
// 410100 sending too fast (20 messages a minute per robot). Every other
// errcode (310000 bad signature, keyword or IP; 300001 or 400101 bad
// token; 400102 robot disabled; 400013 group dissolved …) will not change
// by retrying.
var dingTalkRetryable = []int{-1, 130101, 410100}

// DingTalkConfig configures a DingTalk group robot.
type DingTalkConfig struct {
	// AccessToken is the access_token of the robot's URL; never logged.
	AccessToken string `json:"access_token"`
	// Secret is the robot's 加签 secret ("SEC…"); when set, every request
	// is signed. Never logged.
	Secret string `json:"secret,omitempty"`
	// Keyword, when set, is put in front of any message that lacks it, for
	// robots secured by a custom keyword (自定义关键词).
	Keyword string `json:"keyword,omitempty"`
	// BaseURL is the send endpoint; DefaultDingTalkURL when empty.
	BaseURL string `json:"base_url,omitempty"`
	// MsgType is "text" (the default) or "markdown".
	MsgType  string            `json:"msgtype,omitempty"`
	Timeout  alerting.Duration `json:"timeout,omitempty"`
	Location *time.Location    `json:"-"`
	// Now is the clock of the signature's timestamp; time.Now when nil.
	// DingTalk refuses a timestamp more than an hour off.
	Now func() time.Time `json:"-"`
}

// Validate checks c, naming the bad field and never echoing a secret.
func (c DingTalkConfig) Validate() error {
	if c.AccessToken == "" {
		return fmt.Errorf("%w: dingtalk access_token is empty", ErrBadConfig)
	}
	if c.BaseURL != "" {
		if err := validURL("dingtalk base_url", c.BaseURL); err != nil {
			return err
		}
	}
	if c.MsgType != "" && c.MsgType != "text" && c.MsgType != "markdown" {
		return fmt.Errorf("%w: dingtalk msgtype %q: want text or markdown", ErrBadConfig, c.MsgType)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: dingtalk timeout: must not be negative", ErrBadConfig)
	}
	return nil
}

// DingTalk posts notifications to a DingTalk (钉钉) custom group robot:
//
//	POST https://oapi.dingtalk.com/robot/send?access_token=TOKEN&timestamp=T&sign=S
//	{"msgtype":"text","text":{"content":"… @13800001111"},"at":{"atMobiles":["13800001111"],"isAtAll":false}}
//
// where T is the time in milliseconds and S is DingTalkSign(T, secret).
// A mention is highlighted only when "@phone" also appears in the
// content, which Text does. The answer {"errcode":0,"errmsg":"ok"} delivers
// it; any other errcode is a failure.
type DingTalk struct {
	cfg    DingTalkConfig
	client *http.Client
}

var _ alerting.Notifier = (*DingTalk)(nil)

// NewDingTalk checks cfg and returns a DingTalk robot. A nil client means
// http.DefaultClient.
func NewDingTalk(cfg DingTalkConfig, client *http.Client) (*DingTalk, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.BaseURL = orDefault(cfg.BaseURL, DefaultDingTalkURL)
	cfg.MsgType = orDefault(cfg.MsgType, "text")
	cfg.Location = orDefault(cfg.Location, DefaultLocation)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &DingTalk{cfg: cfg, client: clientOr(client)}, nil
}

// Kind implements Kinder.
func (d *DingTalk) Kind() string { return "dingtalk" }

// DingTalkSign returns the sign parameter of a signed DingTalk request
// before URL encoding: base64(HMAC-SHA256 keyed with secret of
// "{timestamp}\n{secret}"), timestamp in milliseconds.
func DingTalkSign(timestamp int64, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d\n%s", timestamp, secret)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// DingTalkMessage is the body of a DingTalk robot message.
type DingTalkMessage struct {
	MsgType  string            `json:"msgtype"`
	Text     *DingTalkText     `json:"text,omitempty"`
	Markdown *DingTalkMarkdown `json:"markdown,omitempty"`
	At       DingTalkAt        `json:"at"`
}

// DingTalkText is a text message.
type DingTalkText struct {
	Content string `json:"content"`
}

// DingTalkMarkdown is a markdown message; Title shows in the chat list.
type DingTalkMarkdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// DingTalkAt lists who the message @-mentions.
type DingTalkAt struct {
	AtMobiles []string `json:"atMobiles"`
	IsAtAll   bool     `json:"isAtAll"`
}

// NewDingTalkMessage builds the message a DingTalk robot posts for n.
func NewDingTalkMessage(n alerting.Notification, msgType, keyword string, loc *time.Location) DingTalkMessage {
	m := DingTalkMessage{MsgType: msgType, At: DingTalkAt{AtMobiles: nonNil(slices.Clone(n.Mentions))}}
	withKeyword := func(s string) string {
		if keyword != "" && !strings.Contains(s, keyword) {
			return keyword + " " + s
		}
		return s
	}
	if msgType == "markdown" {
		text := "### " + withKeyword(strings.TrimPrefix(render(n, textStyle{loc: loc, atPhones: true, markdown: true}), "### "))
		title, _, _ := strings.Cut(strings.TrimPrefix(text, "### "), "\n")
		// DingTalk's markdown joins single line breaks.
		text = strings.ReplaceAll(text, "\n", "\n\n")
		m.Markdown = &DingTalkMarkdown{Title: title, Text: text}
		return m
	}
	m.MsgType = "text"
	m.Text = &DingTalkText{Content: withKeyword(render(n, textStyle{loc: loc, atPhones: true}))}
	return m
}

// Notify posts n once, signed with a fresh timestamp.
func (d *DingTalk) Notify(ctx context.Context, n alerting.Notification) (bool, error) {
	body, err := json.Marshal(NewDingTalkMessage(n, d.cfg.MsgType, d.cfg.Keyword, d.cfg.Location))
	if err != nil {
		return false, fmt.Errorf("encode dingtalk message: %w", err)
	}
	q := url.Values{"access_token": {d.cfg.AccessToken}}
	if d.cfg.Secret != "" {
		ts := d.cfg.Now().UnixMilli()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", DingTalkSign(ts, d.cfg.Secret))
	}
	return robotPost(ctx, d.client, timeoutOf(d.cfg.Timeout), d.cfg.BaseURL+"?"+q.Encode(), body, dingTalkRetryable)
}
