package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// These tests push to /ingest/v1/{integration} with Debian's curl, as
// CTWing and OneNET would, using the bodies of devices/testdata.

const (
	ctwingToken  = "ctwing-subscription-token-1"
	ctwingDevice = "d01308047f864601a821e02dc328eab4"
)

// ingestCase reads a devices/testdata/ingest_* folder: its vendor rules,
// its secret (if any) and its bodies, comments left out.
func ingestCase(t *testing.T, name string) (rules json.RawMessage, secret string, bodies [][]byte) {
	t.Helper()
	dir := filepath.Join("..", "devices", "testdata", name)
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg devices.AdapterConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "secret")); err == nil {
		secret = strings.TrimSpace(string(b))
	}
	f, err := os.Open(filepath.Join(dir, "input.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 && line[0] != '#' {
			bodies = append(bodies, bytes.Clone(line))
		}
	}
	return cfg.Config, secret, bodies
}

func ingestGateway(t *testing.T, dataDir string) *gatewaytest.Gateway {
	t.Helper()
	ctwing, _, _ := ingestCase(t, "ingest_ctwing_smoke_alarm")
	onenet, onenetToken, _ := ingestCase(t, "ingest_onenet_smoke_alarm")
	g := gatewaytest.Start(t, gateway.Config{DataDir: dataDir, Integrations: map[string]gateway.Integration{
		"ctwing_smoke": {Platform: "ctwing", Token: ctwingToken, VendorJSON: ctwing},
		"onenet_smoke": {Platform: "onenet", Token: onenetToken, VendorJSON: onenet},
	}})
	g.SeedSites()
	g.ProvisionWith(map[string]any{"id": "smk-nb", "kind": "smoke_detector", "format": "vendor_json:ctwing_nb_smoke",
		"ref": ctwingDevice, "site": "home-12-kitchen", "resident": "wang-xy"})
	g.ProvisionWith(map[string]any{"id": "smk-on", "kind": "smoke_detector", "format": "vendor_json:onenet_nb_smoke",
		"ref": "smoke-0017"})
	return g
}

// curlPush POSTs body with curl and returns the status and the answer.
func curlPush(t *testing.T, url string, body []byte, headers ...string) (int, string) {
	t.Helper()
	curl := gatewaytest.NeedBinary(t, "curl")
	args := []string{"-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@-", "-w", "\n%{http_code}", url}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.Command(curl, args...)
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v: %s", url, err, out)
	}
	s := strings.TrimSpace(string(out))
	i := strings.LastIndexByte(s, '\n')
	code, err := strconv.Atoi(s[i+1:])
	if err != nil {
		t.Fatalf("curl %s: no status in %q", url, s)
	}
	return code, s[:max(i, 0)]
}

func alarmsOf(t *testing.T, g *gatewaytest.Gateway, device string, typ string) []*alerting.Alarm {
	t.Helper()
	var out []*alerting.Alarm
	for _, a := range mustAlarms(t, g, "all") {
		if a.Device == device && a.Type == typ {
			out = append(out, a)
		}
	}
	return out
}

// TestIngestCTWingSmokeWithCurl: CTWing's pushes of an NB-IoT smoke
// detector raise P1 smoke at its room, like a native detector's alarm; the
// platform's retry of the alarm push raises nothing new and is answered
// 200; a wrong token is 401 and a body that is no CTWing message is 400,
// each counted.
func TestIngestCTWingSmokeWithCurl(t *testing.T) {
	g := ingestGateway(t, "")
	_, _, bodies := ingestCase(t, "ingest_ctwing_smoke_alarm")
	url := g.BaseURL + "/ingest/v1/ctwing_smoke?token=" + ctwingToken
	var alarmPush []byte
	for _, b := range bodies {
		code, ans := curlPush(t, url, b)
		if _, err := devices.DecodePush("ctwing", b); err != nil { // the test data's bodies to refuse
			reason := string(err.(*devices.RejectError).Reason)
			if code != 400 || !strings.Contains(ans, `"reason":"`+reason+`"`) {
				t.Errorf("push %.120s: HTTP %d %s, want 400 %s", b, code, ans, reason)
			}
			continue
		}
		if code != 200 {
			t.Fatalf("push %.120s: HTTP %d %s, want 200", b, code, ans)
		}
		if alarmPush == nil && bytes.Contains(b, []byte(`"smoke_state":1`)) {
			alarmPush = b
		}
		if got := alarmsOf(t, g, "smk-nb", alerting.TypeSmoke); alarmPush != nil && len(got) == 0 {
			t.Fatalf("no smoke alarm after the push %.200s", alarmPush)
		}
	}
	// The data: smoke (pushed twice: CTWing's retry), clear, and smoke
	// again an hour later: two fires, each raised once.
	got := alarmsOf(t, g, "smk-nb", alerting.TypeSmoke)
	if len(got) != 2 {
		t.Fatalf("%d smoke alarms, want exactly 2", len(got))
	}
	for _, a := range got {
		if a.Priority != alerting.P1 || a.Site != "home-12-kitchen" || a.Resident != "王秀英" || a.Count != 1 {
			t.Fatalf("pushed smoke alarm %+v: want P1 at home-12-kitchen for 王秀英, count 1", a)
		}
	}
	code, ans := curlPush(t, url, alarmPush)
	if code != 200 || !strings.Contains(ans, `"duplicates":1`) {
		t.Fatalf("the platform's retry: HTTP %d %s, want 200 and a duplicate", code, ans)
	}
	if again := alarmsOf(t, g, "smk-nb", alerting.TypeSmoke); len(again) != 2 || again[0].Count != 1 || again[1].Count != 1 {
		t.Fatalf("the retry changed the alarms: %+v", again)
	}

	unauth := rejections(t, g, "unauthenticated")
	for _, u := range []string{g.BaseURL + "/ingest/v1/ctwing_smoke?token=wrong-token-of-enough-length", g.BaseURL + "/ingest/v1/ctwing_smoke"} {
		if code, ans := curlPush(t, u, alarmPush); code != 401 || !strings.Contains(ans, "unauthenticated") {
			t.Errorf("push to %s: HTTP %d %s, want 401 unauthenticated", u, code, ans)
		}
	}
	if got := rejections(t, g, "unauthenticated"); got != unauth+2 {
		t.Errorf("unauthenticated counted %v, want %v", got, unauth+2)
	}
	malformed := rejections(t, g, "malformed_json")
	if code, ans := curlPush(t, url, []byte(`{"deviceId": `)); code != 400 || !strings.Contains(ans, "malformed_json") {
		t.Errorf("a truncated body: HTTP %d %s, want 400 malformed_json", code, ans)
	}
	if got := rejections(t, g, "malformed_json"); got != malformed+1 {
		t.Errorf("malformed_json counted %v, want %v", got, malformed+1)
	}
	if code, _ := curlPush(t, g.BaseURL+"/ingest/v1/nobody?token="+ctwingToken, alarmPush); code != 404 {
		t.Errorf("push to an integration not configured: HTTP %d, want 404", code)
	}
	if n := len(alarmsOf(t, g, "smk-nb", alerting.TypeSmoke)); n != 2 {
		t.Errorf("%d smoke alarms after the refused pushes, want still 2", n)
	}
}

// TestIngestOneNETSignedWithCurl: OneNET's signed pushes raise P1 smoke; a
// body altered after signing is 401 bad_signature and raises nothing; the
// address check echoes msg when its signature verifies.
func TestIngestOneNETSignedWithCurl(t *testing.T) {
	g := ingestGateway(t, "")
	_, token, bodies := ingestCase(t, "ingest_onenet_smoke_alarm")
	url := g.BaseURL + "/ingest/v1/onenet_smoke"
	badSig := rejections(t, g, "bad_signature")
	var refused int
	for _, b := range bodies {
		code, ans := curlPush(t, url, b)
		if devices.VerifyOneNET(token, b) != nil {
			refused++
			if code != 401 || !strings.Contains(ans, "bad_signature") {
				t.Errorf("forged push: HTTP %d %s, want 401 bad_signature", code, ans)
			}
			continue
		}
		if code != 200 {
			t.Fatalf("push %.160s: HTTP %d %s, want 200", b, code, ans)
		}
	}
	if refused == 0 {
		t.Fatal("the test data has no forged push")
	}
	if got := rejections(t, g, "bad_signature"); got != badSig+float64(refused) {
		t.Errorf("bad_signature counted %v, want %v", got, badSig+float64(refused))
	}
	got := alarmsOf(t, g, "smk-on", alerting.TypeSmoke)
	if len(got) != 1 || got[0].Priority != alerting.P1 || got[0].Count != 1 {
		t.Fatalf("%d smoke alarms %+v from OneNET, want exactly one P1, count 1 (the forged push none)", len(got), got)
	}

	curl := gatewaytest.NeedBinary(t, "curl")
	msg, nonce := "abcdef0123", "n0nce1"
	sig := devices.OneNETSignature(token, nonce, []byte(msg))
	out, err := exec.Command(curl, "-sS", "-G", "-w", "\n%{http_code}", "--data-urlencode", "msg="+msg,
		"--data-urlencode", "nonce="+nonce, "--data-urlencode", "signature="+sig, url).CombinedOutput()
	if err != nil || string(out) != msg+"\n200" {
		t.Errorf("OneNET address check: %v %q, want %q and 200", err, out, msg)
	}
	out, _ = exec.Command(curl, "-sS", "-G", "-o", "/dev/null", "-w", "%{http_code}", "--data-urlencode", "msg="+msg,
		"--data-urlencode", "nonce="+nonce, "--data-urlencode", "signature=AAAA"+sig[4:], url).CombinedOutput()
	if string(out) != "401" {
		t.Errorf("OneNET address check with a bad signature: HTTP %s, want 401", out)
	}
}

// TestIngestStoreFailingIs5xx: a push the store cannot keep (a full disk)
// is answered 503 and leaves nothing: no alarm, no push record, the
// device's adapter state as it was; the platform's retry once the disk has
// room raises the alarm once, and a retry after that nothing.
func TestIngestStoreFailingIs5xx(t *testing.T) {
	gatewaytest.NeedBinary(t, "curl")
	dataDir := mountTmpfs(t, "24m")
	g := ingestGateway(t, dataDir)
	url := g.BaseURL + "/ingest/v1/ctwing_smoke?token=" + ctwingToken
	ts := time.Now().UnixMilli()
	body := func(smoke, battery int) []byte {
		ts++
		return fmt.Appendf(nil, `{"upPacketSN":-1,"upDataSN":-1,"topic":"v1/up/ad","timestamp":%d,"tenantId":"2000033827","serviceId":"","protocol":"lwm2m","productId":"15045240","payload":{"smoke_state":%d,"smoke_value":2,"battery_value":%d,"battery_voltage":3.1,"error_code":0},"messageType":"dataReport","deviceType":"","deviceId":"%s","assocAssetId":"","IMSI":"undefined","IMEI":"868474042601953"}`,
			ts, smoke, battery, ctwingDevice)
	}
	if code, ans := curlPush(t, url, body(0, 90)); code != 200 {
		t.Fatalf("push before the disk filled: HTTP %d %s", code, ans)
	}
	free := fillDisk(t, dataDir)
	// bbolt reuses freed pages: push readings (each a new push id) until
	// the store needs a page it cannot get.
	for i := 0; ; i++ {
		code, ans := curlPush(t, url, body(0, 80+i%10))
		if code >= 500 {
			break
		}
		if code != 200 || i == 2000 {
			t.Fatalf("push %d on a full disk: HTTP %d %s", i, code, ans)
		}
	}
	prior, err := g.DB().AdapterState("smk-nb")
	if err != nil {
		t.Fatal(err)
	}
	alarm := body(1, 80)
	for try := range 3 {
		if code, ans := curlPush(t, url, alarm); code != 503 {
			t.Fatalf("try %d: HTTP %d %s for a smoke push the full disk could not keep, want 503", try, code, ans)
		}
	}
	for _, a := range g.Engine().Open() {
		if a.Device == "smk-nb" && a.Type == alerting.TypeSmoke {
			t.Fatalf("a smoke alarm in memory after failed writes: %+v", a)
		}
	}
	if got, err := g.DB().AdapterState("smk-nb"); err != nil || got.Seq != prior.Seq || len(got.On) != 0 {
		t.Fatalf("adapter state %+v (%v) after failed writes, want it as before (%+v)", got, err, prior)
	}
	free()

	deadline := time.Now().Add(10 * time.Second)
	for {
		code, ans := curlPush(t, url, alarm)
		if code == 200 {
			if !strings.Contains(ans, `"accepted":1`) {
				t.Fatalf("the retry once the disk has room: %s, want it accepted (no record of the failed tries)", ans)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTP %d %s 10 s after the disk was freed", code, ans)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := alarmsOf(t, g, "smk-nb", alerting.TypeSmoke); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("after the retry: %d smoke alarms, want one, count 1", len(got))
	}
	if code, ans := curlPush(t, url, alarm); code != 200 || !strings.Contains(ans, `"duplicates":1`) {
		t.Fatalf("a retry of the stored push: HTTP %d %s, want 200, a duplicate", code, ans)
	}
	if stored, err := g.DB().OpenAlarms(); err != nil || len(stored) != 1 || stored[0].Count != 1 {
		t.Fatalf("store holds %d open alarms (%v), want the one smoke alarm", len(stored), err)
	}
}

// TestIngestConcurrentRetries: a platform that retries a push before the
// first try is answered (several at once) gets 200 for each, and the
// push is taken once: one alarm, counted once.
func TestIngestConcurrentRetries(t *testing.T) {
	g := ingestGateway(t, "")
	url := g.BaseURL + "/ingest/v1/ctwing_smoke?token=" + ctwingToken
	body := fmt.Sprintf(`{"timestamp":%d,"messageType":"dataReport","deviceId":%q,"payload":{"smoke_state":1,"battery_value":86}}`,
		time.Now().UnixMilli(), ctwingDevice)
	const n = 8
	answers := make(chan string, n)
	for range n {
		go func() {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				answers <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers <- fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
		}()
	}
	var accepted, dups int
	for range n {
		switch a := <-answers; a {
		case `200 {"accepted":1}`:
			accepted++
		case `200 {"accepted":0,"duplicates":1}`:
			dups++
		default:
			t.Errorf("answer %q", a)
		}
	}
	if accepted != 1 || dups != n-1 {
		t.Errorf("%d accepted, %d duplicates; want 1 and %d", accepted, dups, n-1)
	}
	if got := alarmsOf(t, g, "smk-nb", alerting.TypeSmoke); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("%d smoke alarms after %d concurrent tries of one push, want one, count 1", len(got), n)
	}
}

// TestIngestPushRecordsPruned: the ids of platform pushes are kept for
// DefaultPushRetention, long enough for the platform's retries (a retry
// the day after is still a duplicate), then forgotten by housekeeping, on
// the gateway's clock.
func TestIngestPushRecordsPruned(t *testing.T) {
	ctwing, _, _ := ingestCase(t, "ingest_ctwing_smoke_alarm")
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{Integrations: map[string]gateway.Integration{
		"ctwing_smoke": {Platform: "ctwing", Token: ctwingToken, VendorJSON: ctwing}}}, gatewaytest.WithClock(clock.Now))
	g.ProvisionWith(map[string]any{"id": "smk-nb", "kind": "smoke_detector", "format": "vendor_json:ctwing_nb_smoke", "ref": ctwingDevice})
	url := g.BaseURL + "/ingest/v1/ctwing_smoke?token=" + ctwingToken
	push := func(ts int64) string {
		t.Helper()
		body := fmt.Sprintf(`{"timestamp":%d,"messageType":"dataReport","deviceId":%q,"payload":{"smoke_state":0,"battery_value":86}}`, ts, ctwingDevice)
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("push: HTTP %d %s", resp.StatusCode, b)
		}
		return string(bytes.TrimSpace(b))
	}
	const old, recent = 1732345678001, 1732345678002
	push(old)
	clock.Advance(gateway.DefaultPushRetention - 24*time.Hour)
	push(recent)
	clock.Advance(23 * time.Hour)
	g.Housekeep(clock.Now()) // the old push is 7 days less an hour old
	if ans := push(old); ans != `{"accepted":0,"duplicates":1}` {
		t.Fatalf("a retry within %s: %s, want a duplicate", gateway.DefaultPushRetention, ans)
	}
	g.Housekeep(clock.Advance(2 * time.Hour)) // 7 days and an hour
	if ans := push(recent); ans != `{"accepted":0,"duplicates":1}` {
		t.Fatalf("a retry of the push of 6 days ago: %s, want still a duplicate", ans)
	}
	if ans := push(old); ans != `{"accepted":1}` {
		t.Fatalf("the push of 7 days and an hour ago, again: %s, want it taken anew (its record pruned)", ans)
	}
}
