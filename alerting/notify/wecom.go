package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// DefaultWeComURL is the WeCom group robot's send endpoint.
const DefaultWeComURL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"

// Limits of WeCom robot messages, in bytes of UTF-8.
const (
	WeComTextMax     = 2048
	WeComMarkdownMax = 4096
)

// WeCom errcodes worth another attempt: -1 system busy, 45009 the robot's
// rate limit (20 messages a minute), 45033 too many concurrent calls.
// Every other errcode (93000 invalid key, 40008 bad message type, 44004
// empty content …) will not change by retrying.
var weComRetryable = []int{-1, 45009, 45033}

// WeComConfig configures a WeCom group robot.
type WeComConfig struct {
	// Key is the robot's webhook key, the key= of its URL; never logged.
	Key string `json:"key"`
	// BaseURL is the send endpoint; DefaultWeComURL when empty.
	BaseURL string `json:"base_url,omitempty"`
	// MsgType is "text" (the default) or "markdown". Only text messages
	// can @-mention by phone number; markdown lists the names instead.
	MsgType  string            `json:"msgtype,omitempty"`
	Timeout  alerting.Duration `json:"timeout,omitempty"`
	Location *time.Location    `json:"-"`
}

// Validate checks c, naming the bad field and never echoing the key.
func (c WeComConfig) Validate() error {
	if c.Key == "" {
		return fmt.Errorf("%w: wecom key is empty", ErrBadConfig)
	}
	if c.BaseURL != "" {
		if err := validURL("wecom base_url", c.BaseURL); err != nil {
			return err
		}
	}
	if c.MsgType != "" && c.MsgType != "text" && c.MsgType != "markdown" {
		return fmt.Errorf("%w: wecom msgtype %q: want text or markdown", ErrBadConfig, c.MsgType)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: wecom timeout: must not be negative", ErrBadConfig)
	}
	return nil
}

// WeCom posts notifications to a WeCom (企业微信) group robot:
//
//	POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY
//	{"msgtype":"text","text":{"content":"…","mentioned_mobile_list":["13800001111"]}}
//
// answered {"errcode":0,"errmsg":"ok"}; any other errcode is a failure.
type WeCom struct {
	cfg    WeComConfig
	url    string
	client *http.Client
}

var _ alerting.Notifier = (*WeCom)(nil)

// NewWeCom checks cfg and returns a WeCom robot. A nil client means
// http.DefaultClient.
func NewWeCom(cfg WeComConfig, client *http.Client) (*WeCom, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.MsgType = orDefault(cfg.MsgType, "text")
	cfg.Location = orDefault(cfg.Location, DefaultLocation)
	u := orDefault(cfg.BaseURL, DefaultWeComURL) + "?" + url.Values{"key": {cfg.Key}}.Encode()
	return &WeCom{cfg: cfg, url: u, client: clientOr(client)}, nil
}

// Kind implements Kinder.
func (w *WeCom) Kind() string { return "wecom" }

// WeComMessage is the body of a WeCom robot message.
type WeComMessage struct {
	MsgType  string         `json:"msgtype"`
	Text     *WeComText     `json:"text,omitempty"`
	Markdown *WeComMarkdown `json:"markdown,omitempty"`
}

// WeComText is a text message; MentionedMobileList @-mentions group
// members by phone number.
type WeComText struct {
	Content             string   `json:"content"`
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

// WeComMarkdown is a markdown message.
type WeComMarkdown struct {
	Content string `json:"content"`
}

// NewWeComMessage builds the message a WeCom robot posts for n.
func NewWeComMessage(n alerting.Notification, msgType string, loc *time.Location) WeComMessage {
	if msgType == "markdown" {
		return WeComMessage{MsgType: "markdown", Markdown: &WeComMarkdown{
			Content: truncate(render(n, textStyle{loc: loc, markdown: true}), WeComMarkdownMax)}}
	}
	return WeComMessage{MsgType: "text", Text: &WeComText{
		Content:             truncate(render(n, textStyle{loc: loc}), WeComTextMax),
		MentionedMobileList: slices.Clone(n.Mentions)}}
}

// Notify posts n once.
func (w *WeCom) Notify(ctx context.Context, n alerting.Notification) (bool, error) {
	body, err := json.Marshal(NewWeComMessage(n, w.cfg.MsgType, w.cfg.Location))
	if err != nil {
		return false, fmt.Errorf("encode wecom message: %w", err)
	}
	return robotPost(ctx, w.client, timeoutOf(w.cfg.Timeout), w.url, body, weComRetryable)
}

// robotPost posts a group robot message and reads its errcode answer.
func robotPost(ctx context.Context, client *http.Client, timeout time.Duration, u string, body []byte,
	retryable []int) (bool, error) {
	retry, resp, err := post(ctx, client, timeout, u, nil, body)
	if err != nil {
		return retry, err
	}
	var ans struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(resp, &ans); err != nil || ans.ErrCode == nil {
		// Not the robot's answer: a proxy or portal in between. It may pass.
		return true, fmt.Errorf("robot answered without an errcode: %q", scrub(string(resp), u))
	}
	if *ans.ErrCode != 0 {
		return slices.Contains(retryable, *ans.ErrCode), &RobotError{Code: *ans.ErrCode, Message: scrub(ans.ErrMsg, u)}
	}
	return false, nil
}
