package devices

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// DecodeCTWing decodes a push of China Telecom's IoT platform (CTWing,
// AEP), its subscription push (订阅推送): one JSON message per POST, with
// messageType saying what it is. The shapes, from CTWing's push
// documentation and bodies captured from real NB-IoT smoke detectors:
//
//	dataReport: {"upPacketSN":-1,"upDataSN":-1,"topic":"v1/up/ad","timestamp":1606982320277,
//	  "tenantId":"…","serviceId":"","protocol":"lwm2m","productId":"15014772",
//	  "payload":{"serviceId":"notification","serviceData":{…}},   // thing-model product
//	  "payload":{"APPdata":"<base64>"},                           // transparent product
//	  "messageType":"dataReport","deviceType":"","deviceId":"acf7…","assocAssetId":"",
//	  "IMSI":"undefined","IMEI":"860374051096202"}
//	eventReport: {"timestamp":…,"serviceId":1002,"protocol":"lwm2m","productId":"…",
//	  "messageType":"eventReport","eventType":2,"eventContent":{…},"deviceId":"…","IMEI":"…"}
//	  (eventType: 1 information, 2 warning, 3 fault)
//	deviceOnlineOfflineReport: {"timestamp":…,"messageType":"deviceOnlineOfflineReport",
//	  "eventType":1,"deviceId":"…"}   (eventType: 1 online, 0 offline)
//	commandResponse and others: PushOther.
//
// The vendor rules read the whole message, so a rule names the platform's
// path: "payload.serviceData.Battery_Level", "eventContent.battery_state",
// "eventType". One exception: a transparent product's APPdata that is
// base64 of a JSON object is replaced by that object, so that rules can
// read "payload.APPdata.alarm"; APPdata that is not JSON (a binary frame)
// stays the base64 string and needs the vendor's own decoder.
//
// CTWing sends no message id. Push.ID is deviceId, messageType, timestamp
// and a digest of the body: the platform retries a failed push with the
// same body, which gives the same ID, while two reports of one device in
// one millisecond still differ.
//
// CTWing does not sign its pushes; an integration authenticates them with
// a token the installer puts in the subscription URL (VerifyToken).
func DecodeCTWing(body []byte) ([]Push, error) {
	if err := checkBody(body); err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := strictJSON(body, &obj); err != nil || obj == nil {
		return nil, reject(ReasonMalformed, "a CTWing push must be a JSON object")
	}
	typ := jsonString(obj["messageType"])
	p := Push{Device: jsonString(obj["deviceId"]), Time: jsonMillis(obj["timestamp"])}
	for _, k := range []string{"IMEI", "imei"} {
		if v := jsonString(obj[k]); v != "" && v != "undefined" {
			p.IMEI = v
			break
		}
	}
	if err := pushRef("deviceId", p.Device); err != nil {
		return nil, err
	}
	p.ID = strings.Join([]string{p.Device, typ, strconv.FormatInt(p.Time.UnixMilli(), 10), digest(body)}, "/")
	switch typ {
	case "dataReport":
		p.Type = PushData
	case "eventReport":
		p.Type = PushEvent
	case "deviceOnlineOfflineReport":
		switch jsonString(obj["eventType"]) {
		case "1":
			p.Type = PushOnline
		case "0":
			p.Type = PushOffline
		default:
			return nil, reject(ReasonBadField, "deviceOnlineOfflineReport: eventType must be 1 or 0, got %s", truncate(string(obj["eventType"]), 16))
		}
		return []Push{p}, nil
	default:
		p.Type = PushOther
		return []Push{p}, nil
	}
	msg, err := ctwingAppData(body, obj)
	if err != nil {
		return nil, err
	}
	p.Message = msg
	return []Push{p}, nil
}

// ctwingAppData returns the message the rules read: the body, with a
// transparent payload's APPdata decoded when it is base64 of a JSON object.
func ctwingAppData(body []byte, obj map[string]json.RawMessage) (json.RawMessage, error) {
	var payload map[string]json.RawMessage
	if json.Unmarshal(obj["payload"], &payload) != nil || payload == nil {
		return body, nil
	}
	var b64 string
	if json.Unmarshal(payload["APPdata"], &b64) != nil {
		return body, nil
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return body, nil
	}
	raw = bytes.TrimSpace(raw)
	var inner map[string]any
	if !bytes.HasPrefix(raw, []byte("{")) || nesting(raw, MaxNesting-2) > MaxNesting-2 || json.Unmarshal(raw, &inner) != nil {
		return body, nil
	}
	payload["APPdata"] = raw
	obj["payload"], _ = json.Marshal(payload)
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, reject(ReasonMalformed, "%v", err)
	}
	return out, nil
}
