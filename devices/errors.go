package devices

import "fmt"

// Reason names why a payload was refused. The set is fixed so that it can be
// a Prometheus label and a word an installer can look up in the README.
type Reason string

// The rejection reasons.
const (
	ReasonMalformed     Reason = "malformed_json"
	ReasonUnknownType   Reason = "unknown_type"
	ReasonMissingSeq    Reason = "missing_seq"
	ReasonOversized     Reason = "oversized"
	ReasonUnknownDevice Reason = "unknown_device"
	ReasonBadTopic      Reason = "bad_topic"
	ReasonBadField      Reason = "bad_field"
	ReasonRateLimited   Reason = "rate_limited"
	ReasonTooDeep       Reason = "too_deep"
	// ReasonUnauthenticated: an IoT platform's push without the
	// integration's token, or with a wrong one.
	ReasonUnauthenticated Reason = "unauthenticated"
	// ReasonBadSignature: an IoT platform's push whose signature does not
	// verify with the integration's secret.
	ReasonBadSignature Reason = "bad_signature"
)

// Reasons lists every Reason, so that counters can start at zero.
func Reasons() []Reason {
	return []Reason{ReasonMalformed, ReasonUnknownType, ReasonMissingSeq, ReasonOversized,
		ReasonUnknownDevice, ReasonBadTopic, ReasonBadField, ReasonRateLimited, ReasonTooDeep,
		ReasonUnauthenticated, ReasonBadSignature}
}

// RejectError is returned by decoders for a payload they refuse.
type RejectError struct {
	Reason Reason
	Detail string
}

func (e *RejectError) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

func reject(r Reason, format string, args ...any) *RejectError {
	return &RejectError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}
