package devices

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/anxin-care/anxin/internal/jsonerr"
)

// DecodeOneNET decodes a push of China Mobile's OneNET (HTTP 数据推送).
// Every push is an envelope that carries the message in "msg", with the
// "nonce" and signature that VerifyOneNET checks:
//
//	OneNET Studio: {"msg":"<the message, a JSON string>","nonce":"…","signature":"…","time":…,"id":"…"}
//	legacy (多协议/NB-IoT suite): {"msg":{…} or [{…},…],"nonce":"…","msg_signature":"…"}
//
// An OneNET Studio message (rule engine message source) is one of:
//
//	{"projectId":"…","productId":"…","deviceName":"smoke-0017","messageType":"notify",
//	 "notifyType":"property","imei":"…","data":{"id":"12","params":{"SmokeState":{"value":1,"time":…}}}}
//	{… "messageType":"notify","notifyType":"event","data":{"id":"…","params":{"SmokeAlarm":{"value":{…},"time":…}}}}
//	{… "messageType":"lifeCycle","data":{"status":"online","time":…}}
//
// and the rules read it whole: "data.params.SmokeState.value".
//
// A legacy message is {"type":1,"dev_id":…,"ds_id":"smoke","at":…,"value":1} (a data point;
// type 2 is online/offline with "status" 1/0). The rules read a data point
// as {"<ds_id>": value, "ds_id": …, "at": …}, so that a rule names the data
// stream: "smoke".
//
// Push.ID is the envelope's id (Studio); otherwise the message's own
// identity: productId/deviceName/data.id and time, or dev_id/ds_id/at.
func DecodeOneNET(body []byte) ([]Push, error) {
	if err := checkBody(body); err != nil {
		return nil, err
	}
	var env struct {
		Msg json.RawMessage `json:"msg"`
		ID  json.RawMessage `json:"id"`
	}
	if err := strictJSON(body, &env); err != nil {
		return nil, reject(ReasonMalformed, "an OneNET push must be a JSON object: %v", err)
	}
	msg := bytes.TrimSpace(env.Msg)
	switch {
	case len(msg) == 0 || bytes.Equal(msg, []byte("null")):
		return nil, reject(ReasonBadField, "msg is missing")
	case msg[0] == '"':
		var s string
		if err := json.Unmarshal(msg, &s); err != nil {
			return nil, reject(ReasonMalformed, "msg: %s", jsonerr.Describe(err))
		}
		if err := checkBody([]byte(s)); err != nil {
			return nil, err
		}
		p, err := oneNETStudio([]byte(s), jsonString(env.ID))
		if err != nil {
			return nil, err
		}
		return []Push{p}, nil
	case msg[0] == '{' && oneNETStudioShape(msg):
		// Studio's message sent as an object rather than a string: the
		// stored documentation shows the string; accept either.
		p, err := oneNETStudio(msg, jsonString(env.ID))
		if err != nil {
			return nil, err
		}
		return []Push{p}, nil
	case msg[0] == '{':
		p, err := oneNETLegacy(msg)
		if err != nil {
			return nil, err
		}
		return []Push{p}, nil
	case msg[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(msg, &list); err != nil {
			return nil, reject(ReasonMalformed, "msg: %s", jsonerr.Describe(err))
		}
		if len(list) == 0 {
			return nil, reject(ReasonBadField, "msg is an empty batch")
		}
		out := make([]Push, 0, len(list))
		for i, m := range list {
			p, err := oneNETLegacy(m)
			if err != nil {
				return nil, reject(ReasonBadField, "msg %d: %v", i+1, err)
			}
			out = append(out, p)
		}
		return out, nil
	}
	return nil, reject(ReasonBadField, "msg must be a JSON string, object or array")
}

// oneNETStudioShape tells a Studio message (messageType, deviceName) from a
// legacy one (type, dev_id).
func oneNETStudioShape(msg []byte) bool {
	var probe struct {
		MessageType *string `json:"messageType"`
	}
	return json.Unmarshal(msg, &probe) == nil && probe.MessageType != nil
}

func oneNETStudio(msg []byte, envID string) (Push, error) {
	var m struct {
		ProductID   json.RawMessage `json:"productId"`
		DeviceName  string          `json:"deviceName"`
		MessageType string          `json:"messageType"`
		NotifyType  string          `json:"notifyType"`
		IMEI        string          `json:"imei"`
		Data        struct {
			ID     json.RawMessage `json:"id"`
			Status string          `json:"status"`
			Time   json.RawMessage `json:"time"`
		} `json:"data"`
		Timestamp json.RawMessage `json:"timestamp"`
	}
	var obj map[string]any
	if err := strictJSON(msg, &obj); err != nil || obj == nil {
		return Push{}, reject(ReasonMalformed, "msg must hold a JSON object")
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return Push{}, reject(ReasonBadField, "msg: %s", jsonerr.Describe(err))
	}
	p := Push{Device: m.DeviceName, IMEI: m.IMEI, Time: jsonMillis(m.Data.Time)}
	if p.Time.IsZero() {
		p.Time = jsonMillis(m.Timestamp)
	}
	if err := pushRef("deviceName", p.Device); err != nil {
		return Push{}, err
	}
	p.ID = envID
	if p.ID == "" {
		p.ID = strings.Join([]string{jsonString(m.ProductID), p.Device, m.MessageType, jsonString(m.Data.ID), digest(msg)}, "/")
	}
	switch {
	case m.MessageType == "notify" && m.NotifyType == "property":
		p.Type, p.Message = PushData, msg
	case m.MessageType == "notify" && m.NotifyType == "event":
		p.Type, p.Message = PushEvent, msg
	case m.MessageType == "lifeCycle" && m.Data.Status == "online":
		p.Type = PushOnline
	case m.MessageType == "lifeCycle" && m.Data.Status == "offline":
		p.Type = PushOffline
	default:
		p.Type = PushOther
	}
	return p, nil
}

func oneNETLegacy(msg []byte) (Push, error) {
	var m struct {
		Type   int             `json:"type"`
		DevID  json.RawMessage `json:"dev_id"`
		DsID   string          `json:"ds_id"`
		At     json.RawMessage `json:"at"`
		Value  json.RawMessage `json:"value"`
		Status *int            `json:"status"`
		IMEI   string          `json:"imei"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return Push{}, reject(ReasonBadField, "msg: %s", jsonerr.Describe(err))
	}
	p := Push{Device: jsonString(m.DevID), IMEI: m.IMEI, Time: jsonMillis(m.At)}
	if err := pushRef("dev_id", p.Device); err != nil {
		return Push{}, err
	}
	p.ID = strings.Join([]string{p.Device, strconv.Itoa(m.Type), m.DsID, strconv.FormatInt(p.Time.UnixMilli(), 10)}, "/")
	switch {
	case m.Type == 1:
		if m.DsID == "" || len(m.DsID) > 64 || strings.Contains(m.DsID, ".") {
			return Push{}, reject(ReasonBadField, "ds_id %q is not a usable data stream name", truncate(m.DsID, 64))
		}
		view := map[string]json.RawMessage{"ds_id": mustJSON(m.DsID), "at": m.At, m.DsID: m.Value}
		if len(m.At) == 0 {
			delete(view, "at")
		}
		p.Type = PushData
		p.Message = mustJSON(view)
	case m.Type == 2 && m.Status != nil && *m.Status == 1:
		p.Type = PushOnline
	case m.Type == 2 && m.Status != nil && *m.Status == 0:
		p.Type = PushOffline
	default:
		p.Type = PushOther
	}
	return p, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// VerifyOneNET checks an OneNET push's signature: base64(md5(token + nonce
// + msg)), where msg is the envelope's msg as pushed (the string's content
// for OneNET Studio, the JSON text for the legacy platform) and the
// signature is "signature" (Studio) or "msg_signature" (legacy). The
// comparison is constant-time. An empty token is refused: an integration
// without a secret accepts nothing.
func VerifyOneNET(token string, body []byte) error {
	if token == "" {
		return reject(ReasonUnauthenticated, "the integration has no token")
	}
	var env struct {
		Msg          json.RawMessage `json:"msg"`
		Nonce        string          `json:"nonce"`
		Signature    string          `json:"signature"`
		MsgSignature string          `json:"msg_signature"`
	}
	if len(body) > MaxPushBody || json.Unmarshal(body, &env) != nil {
		return reject(ReasonBadSignature, "no signed envelope")
	}
	msg := []byte(bytes.TrimSpace(env.Msg))
	var s string
	if len(msg) > 0 && msg[0] == '"' {
		if json.Unmarshal(msg, &s) != nil {
			return reject(ReasonBadSignature, "msg is not a JSON string")
		}
		msg = []byte(s)
	}
	sig := env.Signature
	if sig == "" {
		sig = env.MsgSignature
	}
	if sig == "" || env.Nonce == "" {
		return reject(ReasonBadSignature, "signature or nonce missing")
	}
	return checkOneNETSignature(token, env.Nonce, msg, sig)
}

// OneNETURLCheck answers OneNET's address check: when a push instance is
// saved, the platform GETs the URL with ?msg=…&nonce=…&signature=… and
// expects the msg back if the signature verifies with the token. The
// values are the query's, already URL-decoded.
func OneNETURLCheck(token, msg, nonce, signature string) (echo string, err error) {
	if token == "" {
		return "", reject(ReasonUnauthenticated, "the integration has no token")
	}
	if err := checkOneNETSignature(token, nonce, []byte(msg), signature); err != nil {
		return "", err
	}
	return msg, nil
}

// OneNETSignature computes base64(md5(token + nonce + msg)), for tests and
// for tools that replay pushes.
func OneNETSignature(token, nonce string, msg []byte) string {
	h := md5.New()
	h.Write([]byte(token))
	h.Write([]byte(nonce))
	h.Write(msg)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func checkOneNETSignature(token, nonce string, msg []byte, sig string) error {
	want := OneNETSignature(token, nonce, msg)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return reject(ReasonBadSignature, "signature does not verify with the integration's token")
	}
	return nil
}

// VerifyToken checks a push's token (CTWing puts none of its own: the
// installer adds one to the subscription URL, ?token=…, or a header)
// against the integration's, in constant time. An empty configured token is
// refused: an integration without a secret accepts nothing.
func VerifyToken(want, got string) error {
	switch {
	case want == "":
		return reject(ReasonUnauthenticated, "the integration has no token")
	case got == "":
		return reject(ReasonUnauthenticated, "the push carries no token")
	}
	// Compare digests so that the time does not depend on the lengths either.
	w, g := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(w[:], g[:]) != 1 {
		return reject(ReasonUnauthenticated, "the push's token is not the integration's")
	}
	return nil
}

// VerifyHMACSHA256 checks a body signed with HMAC-SHA256 under the
// integration's secret, for platforms and relays that sign that way:
// signature is the hex digest, optionally prefixed "sha256=".
func VerifyHMACSHA256(secret, body []byte, signature string) error {
	if len(secret) == 0 {
		return reject(ReasonUnauthenticated, "the integration has no secret")
	}
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(signature), "sha256="))
	if err != nil || len(got) != sha256.Size {
		return reject(ReasonBadSignature, "signature must be a hex HMAC-SHA256")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return reject(ReasonBadSignature, "signature does not verify with the integration's secret")
	}
	return nil
}
