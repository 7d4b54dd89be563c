package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
)

// HTTP ingest: IoT platforms (CTWing, OneNET) push their NB-IoT devices'
// messages to POST /ingest/v1/{integration}. The route is the gateway's,
// handed to the API server as httpapi.Options.Ingest, so that it shares
// the server's listener and deadlines and httpapi imports nothing of the
// gateway.
//
// A push is authenticated (constant time, before anything is decoded),
// bounded (devices.MaxPushBody), decoded (devices.DecodePush), and each of
// its messages is mapped to the device provisioned with the integration's
// format (vendor_json:<vendor>) and the platform's device reference (or
// IMEI), then decoded by the integration's vendor rules exactly as a
// bridged message (commitBridged): its events, the device's adapter state
// and the record of the push's id (an alerting.Receipt, stored in bucket
// ingest_pushes) are one durable write. Only then is the push answered
// 200. A push whose id the store already holds for the integration is
// answered 200 and changes nothing (the id is checked under the device's
// adapter lock, so two concurrent retries cannot both pass). A store
// failure answers 503, and the platform's retry decodes against the state
// before it, into the same events (see commitBridged).
//
// Answers: 401 unauthenticated or bad_signature; 413 oversized; 400 any
// other rejection, with the reasons; 404 an integration not configured;
// 503 a store failure. Every rejection counts in anxin_rejections_total.

// Integration is an IoT platform account pushing to
// /ingest/v1/{name}, as the config file gives it:
//
//	integrations:
//	  ctwing_smoke:
//	    platform: ctwing
//	    token_file: /etc/anxin/ctwing.token
//	    vendor_json: {vendor: ctwing_nb_smoke, rules: [...]}
type Integration struct {
	// Platform is the body's format: ctwing or onenet.
	Platform string `json:"platform"`
	// Auth is how a push proves it is the platform's: "token" (CTWing's
	// default: ?token=… in the subscription URL or an X-Anxin-Token
	// header), "onenet" (OneNET's default: the body's signature under the
	// token) or "hmac" (an X-Anxin-Signature header, hex HMAC-SHA256 of
	// the body under secret, for relays that sign).
	Auth string `json:"auth,omitempty"`
	// Token is the shared secret of "token" and "onenet", Secret that of
	// "hmac"; like every secret, either may be read from a file instead
	// (token_file, secret_file: configload.go).
	Token  string `json:"token,omitempty"`
	Secret string `json:"secret,omitempty"`
	// VendorJSON is the vendor rules, as a vendor_json adapter's config;
	// its topic is ingest/{name}/{device} (filled in when left out).
	// Devices are provisioned with format vendor_json:<vendor> and the
	// platform's device id (or IMEI) as ref.
	VendorJSON json.RawMessage `json:"vendor_json"`
}

// integration is a configured Integration, ready to serve.
type integration struct {
	name, platform, auth string
	secret               string // the token, or the HMAC secret
	ad                   adapter
}

// minIntegrationSecret is the shortest token or secret accepted.
const minIntegrationSecret = 16

func newIntegrations(cfgs map[string]Integration) (map[string]*integration, error) {
	out := make(map[string]*integration, len(cfgs))
	for _, name := range slices.Sorted(maps.Keys(cfgs)) {
		c := cfgs[name]
		at := fmt.Sprintf("config integrations.%s", name)
		if err := devices.ValidateID(name); err != nil {
			return nil, fmt.Errorf("%s: the name must be letters, digits, '-', '_' or '.'", at)
		}
		if !slices.Contains(devices.Platforms(), c.Platform) {
			return nil, fmt.Errorf("%s.platform: %q is not one of %s", at, c.Platform, strings.Join(devices.Platforms(), ", "))
		}
		auth := c.Auth
		if auth == "" {
			auth = map[string]string{"ctwing": "token", "onenet": "onenet"}[c.Platform]
		}
		var secret string
		var err error
		switch auth {
		case "token", "onenet":
			if auth == "onenet" && c.Platform != "onenet" {
				return nil, fmt.Errorf("%s.auth: onenet is for platform onenet", at)
			}
			secret, err = secretOf(at, "token", c.Token)
		case "hmac":
			secret, err = secretOf(at, "secret", c.Secret)
		default:
			return nil, fmt.Errorf("%s.auth: %q: want token, onenet or hmac", at, c.Auth)
		}
		if err != nil {
			return nil, err
		}
		if len(c.VendorJSON) == 0 {
			return nil, fmt.Errorf("%s.vendor_json: the vendor rules are missing", at)
		}
		var rules map[string]json.RawMessage
		if err := json.Unmarshal(c.VendorJSON, &rules); err != nil {
			return nil, fmt.Errorf("%s.vendor_json: %v", at, err)
		}
		topic := devices.IngestTopic(name, "{device}")
		if t, ok := rules["topic"]; ok {
			var s string
			if json.Unmarshal(t, &s) != nil || s != topic {
				return nil, fmt.Errorf("%s.vendor_json.topic: must be %q (or left out)", at, topic)
			}
		}
		rules["topic"], _ = json.Marshal(topic)
		raw, _ := json.Marshal(rules)
		ads, err := newAdapters([]devices.AdapterConfig{{Type: "vendor_json", Config: raw}})
		if err != nil {
			return nil, fmt.Errorf("%s.vendor_json: %w", at, errors.Unwrap(err))
		}
		out[name] = &integration{name: name, platform: c.Platform, auth: auth, secret: secret, ad: ads[0]}
	}
	return out, nil
}

// secretOf checks an integration's secret.
func secretOf(at, field, value string) (string, error) {
	if len(value) < minIntegrationSecret {
		return "", fmt.Errorf("%s.%s: must be at least %d characters", at, field, minIntegrationSecret)
	}
	return value, nil
}

// pushAnswer is the body of an ingest answer.
type pushAnswer struct {
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates,omitempty"`
	Rejected   []pushRejection `json:"rejected,omitempty"`
	Error      string          `json:"error,omitempty"`
	Reason     devices.Reason  `json:"reason,omitempty"`
}

type pushRejection struct {
	ID     string         `json:"id,omitempty"`
	Reason devices.Reason `json:"reason"`
	Detail string         `json:"detail"`
}

// ingestHandler serves /ingest/v1/{integration}.
func (g *Gateway) ingestHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ingest/v1/{integration}", g.servePush)
	mux.HandleFunc("GET /ingest/v1/{integration}", g.serveURLCheck)
	return mux
}

func writePushAnswer(w http.ResponseWriter, code int, a pushAnswer) {
	a.Error = httpapi.ClipMessage(a.Error)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(a)
}

// refusePush counts and answers a push to integration refused whole.
func (g *Gateway) refusePush(w http.ResponseWriter, integration string, err error) {
	var rej *devices.RejectError
	if !errors.As(err, &rej) {
		rej = &devices.RejectError{Reason: devices.ReasonMalformed, Detail: err.Error()}
	}
	g.reject("", &devices.RejectError{Reason: rej.Reason, Detail: "push to integration " + integration + ": " + rej.Detail})
	code := http.StatusBadRequest
	switch rej.Reason {
	case devices.ReasonUnauthenticated, devices.ReasonBadSignature:
		code = http.StatusUnauthorized
	case devices.ReasonOversized:
		code = http.StatusRequestEntityTooLarge
	}
	writePushAnswer(w, code, pushAnswer{Error: rej.Detail, Reason: rej.Reason})
}

// serveURLCheck answers OneNET's check of the push address.
func (g *Gateway) serveURLCheck(w http.ResponseWriter, r *http.Request) {
	in, ok := g.paths.Load().integrations[r.PathValue("integration")]
	if !ok {
		writePushAnswer(w, http.StatusNotFound, pushAnswer{Error: "no such integration: " + r.PathValue("integration")})
		return
	}
	if in.platform != "onenet" {
		w.Header().Set("Allow", "POST")
		http.Error(w, "only onenet integrations answer a GET", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	echo, err := devices.OneNETURLCheck(in.secret, q.Get("msg"), q.Get("nonce"), q.Get("signature"))
	if err != nil {
		g.refusePush(w, in.name, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, echo)
}

func (g *Gateway) servePush(w http.ResponseWriter, r *http.Request) {
	arrived := g.now()
	in, ok := g.paths.Load().integrations[r.PathValue("integration")]
	if !ok {
		writePushAnswer(w, http.StatusNotFound, pushAnswer{Error: "no such integration: " + r.PathValue("integration")})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, devices.MaxPushBody))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			g.refusePush(w, in.name, &devices.RejectError{Reason: devices.ReasonOversized,
				Detail: fmt.Sprintf("body is over the limit of %d bytes", devices.MaxPushBody)})
			return
		}
		writePushAnswer(w, http.StatusBadRequest, pushAnswer{Error: "reading the body: " + err.Error()})
		return
	}
	switch in.auth {
	case "token":
		tok := r.URL.Query().Get("token")
		if h := r.Header.Get("X-Anxin-Token"); h != "" {
			tok = h
		}
		err = devices.VerifyToken(in.secret, tok)
	case "onenet":
		err = devices.VerifyOneNET(in.secret, body)
	case "hmac":
		err = devices.VerifyHMACSHA256([]byte(in.secret), body, r.Header.Get("X-Anxin-Signature"))
	}
	if err != nil {
		g.refusePush(w, in.name, err)
		return
	}
	pushes, err := devices.DecodePush(in.platform, body)
	if err != nil {
		g.refusePush(w, in.name, err)
		return
	}
	var ans pushAnswer
	code := http.StatusOK
	for _, p := range pushes {
		dup, err := g.takePush(in, p, arrived)
		var rej *devices.RejectError
		switch {
		case errors.As(err, &rej):
			ans.Rejected = append(ans.Rejected, pushRejection{ID: p.ID, Reason: rej.Reason, Detail: rej.Detail})
			code = http.StatusBadRequest
		case err != nil:
			// Not durable: the platform retries, and the pushes already
			// taken are recognised by their ids.
			g.log.Error("pushed message not stored; the platform will retry", "integration", in.name,
				"push", p.ID, "device", p.Device, "err", err)
			writePushAnswer(w, http.StatusServiceUnavailable, pushAnswer{Accepted: ans.Accepted,
				Duplicates: ans.Duplicates, Error: "not stored: the store refused the write; retry"})
			return
		case dup:
			ans.Duplicates++
		default:
			ans.Accepted++
		}
	}
	writePushAnswer(w, code, ans)
}

// takePush makes one push's messages durable with its id; dup is true when
// the id was held already. A rejection is a *devices.RejectError, counted.
func (g *Gateway) takePush(in *integration, p devices.Push, arrived time.Time) (dup bool, err error) {
	if p.Type == devices.PushOther {
		return false, nil
	}
	dev, ok := g.reg.LookupRef(in.ad.format, p.Device)
	if !ok && p.IMEI != "" {
		dev, ok = g.reg.LookupRef(in.ad.format, p.IMEI)
	}
	if !ok {
		err := &devices.RejectError{Reason: devices.ReasonUnknownDevice,
			Detail: fmt.Sprintf("no device is provisioned with format %s and ref %q", in.ad.format, p.Device)}
		g.reject(p.Device, err)
		return false, err
	}
	rec := alerting.Receipt{Source: in.name, ID: p.ID, Device: dev.ID, At: arrived.UTC()}
	held := func() (bool, error) {
		dup, err = g.db.HasPush(in.name, p.ID)
		return dup, err
	}
	if st := p.Status(dev.ID, arrived); st != nil {
		if err := g.commitPushStatus(dev, rec, held); err != nil || dup {
			return dup, err
		}
		return false, g.accept(dev, devices.Message{Status: st}, arrived)
	}
	err = g.decodeBridged(in.ad, dev, p.Input(in.name, dev.ID, dev.Kind, arrived), &rec, held)
	return dup, err
}

// commitPushStatus stores the record of an online or offline push, under
// the device's adapter lock like every push of it.
func (g *Gateway) commitPushStatus(dev registry.Device, rec alerting.Receipt, held func() (bool, error)) error {
	defer g.adapterLocks.lock(dev.ID)()
	if dup, err := held(); err != nil || dup {
		return err
	}
	if err := <-g.db.Commit(alerting.Write{Receipts: []alerting.Receipt{rec}}); err != nil {
		return fmt.Errorf("push record of %s: %w", dev.ID, err)
	}
	return nil
}
