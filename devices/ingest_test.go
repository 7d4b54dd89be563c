package devices

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestSmokeRaisesLikeNative states the requirement outright:
// a smoke alarm pushed by either carrier's platform raises smoke.alarm, the
// event a native detector sends, exactly once per fire.
func TestIngestSmokeRaisesLikeNative(t *testing.T) {
	native, err := DecodeNative("SD-1", ChannelEvent, []byte(`{"seq":1,"type":"smoke.alarm"}`), goldenStart)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"ingest_ctwing_smoke_alarm", "ingest_onenet_smoke_alarm", "ingest_onenet_legacy_datapoints"} {
		t.Run(dir, func(t *testing.T) {
			res := runGolden(t, readGoldenCase(t, filepath.Join("testdata", dir)), false)
			alarms := 0
			for _, m := range res.Messages {
				for _, ev := range m.Events {
					if ev.Type == native.Event.Type {
						alarms++
					}
				}
			}
			if alarms == 0 {
				t.Fatalf("no %s from a pushed smoke alarm", native.Event.Type)
			}
		})
	}
}

func TestDecodePushUnknownPlatform(t *testing.T) {
	if _, err := DecodePush("aliyun", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "known: ctwing, onenet") {
		t.Fatalf("error = %v", err)
	}
}

func reasonOf(err error) Reason {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

func TestVerifyToken(t *testing.T) {
	tests := []struct {
		want, got string
		reason    Reason
	}{
		{"s3cret-token", "s3cret-token", ""},
		{"s3cret-token", "s3cret-tokeN", ReasonUnauthenticated},
		{"s3cret-token", "s3cret", ReasonUnauthenticated},
		{"s3cret-token", "", ReasonUnauthenticated},
		{"", "", ReasonUnauthenticated},
		{"", "anything", ReasonUnauthenticated},
	}
	for _, tt := range tests {
		if got := reasonOf(VerifyToken(tt.want, tt.got)); got != tt.reason {
			t.Errorf("VerifyToken(%q, %q) reason %q, want %q", tt.want, tt.got, got, tt.reason)
		}
	}
}

func TestVerifyHMACSHA256(t *testing.T) {
	secret, body := []byte("k"), []byte(`{"a":1}`)
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	good := hex.EncodeToString(mac.Sum(nil))
	tests := []struct {
		secret []byte
		sig    string
		reason Reason
	}{
		{secret, good, ""},
		{secret, "sha256=" + good, ""},
		{secret, "sha256=" + strings.Repeat("0", 64), ReasonBadSignature},
		{secret, "zz", ReasonBadSignature},
		{[]byte("other"), good, ReasonBadSignature},
		{nil, good, ReasonUnauthenticated},
	}
	for _, tt := range tests {
		if got := reasonOf(VerifyHMACSHA256(tt.secret, body, tt.sig)); got != tt.reason {
			t.Errorf("VerifyHMACSHA256(%q, %q) reason %q, want %q", tt.secret, tt.sig, got, tt.reason)
		}
	}
}

func TestOneNETURLCheck(t *testing.T) {
	sig := OneNETSignature("tok", "abc", []byte("hello"))
	if echo, err := OneNETURLCheck("tok", "hello", "abc", sig); err != nil || echo != "hello" {
		t.Fatalf("OneNETURLCheck = %q, %v", echo, err)
	}
	if _, err := OneNETURLCheck("tok", "hello!", "abc", sig); reasonOf(err) != ReasonBadSignature {
		t.Fatalf("a changed msg verified: %v", err)
	}
	if _, err := OneNETURLCheck("", "hello", "abc", sig); reasonOf(err) != ReasonUnauthenticated {
		t.Fatalf("an empty token verified: %v", err)
	}
	if err := VerifyOneNET("", []byte(`{}`)); reasonOf(err) != ReasonUnauthenticated {
		t.Fatalf("VerifyOneNET with no token: %v", err)
	}
}

// seedIngest adds the bodies of the golden ingest folders of a platform.
func seedIngest(f *testing.F, platform string) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "ingest_*"))
	for _, dir := range dirs {
		p, err := os.ReadFile(filepath.Join(dir, "platform"))
		if err != nil || strings.TrimSpace(string(p)) != platform {
			continue
		}
		in, err := os.ReadFile(filepath.Join(dir, "input.jsonl"))
		if err != nil {
			f.Fatal(err)
		}
		for line := range strings.Lines(string(in)) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				f.Add([]byte(line))
			}
		}
	}
}

// fuzzPush checks what every platform decoder must hold: refusals are
// *RejectError with a known reason; every push has an id and a usable
// device reference; data and event pushes carry a JSON object that the
// vendor rules accept within the nesting limit.
func fuzzPush(t *testing.T, decode PlatformDecoder, body []byte) {
	pushes, err := decode(body)
	if err != nil {
		checkReject(t, err)
		if pushes != nil {
			t.Fatal("a refused body produced pushes")
		}
		return
	}
	if len(pushes) == 0 {
		t.Fatal("an accepted body produced no push")
	}
	for _, p := range pushes {
		if p.ID == "" || ValidateID(p.Device) != nil {
			t.Fatalf("push %+v: missing id or unusable device", p)
		}
		switch p.Type {
		case PushData, PushEvent:
			var obj map[string]any
			if err := decodeObject(p.Message, &obj); err != nil || obj == nil {
				t.Fatalf("push message %.80q is not an object the rules accept: %v", p.Message, err)
			}
		case PushOnline, PushOffline:
			if p.Status("d", goldenStart) == nil {
				t.Fatal("online/offline push without a status")
			}
		case PushOther:
		default:
			t.Fatalf("push type %q", p.Type)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzCTWing(f *testing.F) {
	seedIngest(f, "ctwing")
	f.Add([]byte(`{"deviceId":"d1","messageType":"dataReport","payload":{"APPdata":"eyJhIjpbW1tbW1tbW1tbXV1dXV1dXV1dXX0="}}`))
	f.Fuzz(func(t *testing.T, body []byte) { fuzzPush(t, DecodeCTWing, body) })
}

func FuzzOneNET(f *testing.F) {
	seedIngest(f, "onenet")
	f.Add([]byte(`{"msg":"{\"deviceName\":\"a\",\"messageType\":\"notify\",\"notifyType\":\"event\"}","id":7}`))
	f.Add([]byte(`{"msg":[{"type":1,"dev_id":"x","ds_id":"a","value":[1]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzPush(t, DecodeOneNET, body)
		_ = VerifyOneNET("tok", body) // never panics
	})
}

// TestOneNETStudioMessageAsObject: the Studio message is documented as a
// JSON string inside the envelope; sent as an object, it decodes the same.
func TestOneNETStudioMessageAsObject(t *testing.T) {
	msg := `{"productId":"P","deviceName":"smoke-1","messageType":"notify","notifyType":"property","data":{"id":"3","params":{"smoke_state":{"value":1,"time":1740816000000}}}}`
	asString, err := json.Marshal(map[string]any{"msg": msg, "nonce": "n", "id": "push-1"})
	if err != nil {
		t.Fatal(err)
	}
	asObject := []byte(`{"msg":` + msg + `,"nonce":"n","id":"push-1"}`)
	a, errA := DecodeOneNET(asString)
	b, errB := DecodeOneNET(asObject)
	if errA != nil || errB != nil || len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID || a[0].Device != b[0].Device ||
		a[0].Type != PushData || b[0].Type != PushData {
		t.Fatalf("as string: %+v %v\nas object: %+v %v", a, errA, b, errB)
	}
}
