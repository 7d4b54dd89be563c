// Package notify delivers alarm notifications to people: a signed JSON
// webhook (Standard Webhooks signatures, Verify for receivers), WeCom
// (企业微信) and DingTalk (钉钉) group robots, a Prometheus Alertmanager
// (alerts that fire while an alarm is open), and whatever else implements
// alerting.Notifier (the gateway's console).
//
// A notifier makes one attempt and says whether another could succeed:
// Notify(ctx, n) (retry bool, err error). Everything else is a Pipeline of
// small stages, after Prometheus Alertmanager's notify package:
//
//	inhibit → dedup → retry (with backoff) → the channel's notifier
//	                     ↳ every attempt to the Recorder and Metrics
//
// Dedup delivers a notification once per Key (alarm, kind, step, channel)
// even when it is handed over twice, concurrently or after it went out;
// the keys it has delivered live in a DeliveredLog, in memory by default,
// durable when the gateway gives it one. Retry backs off exponentially
// with jitter (DefaultBackoff: 20 attempts over about 15 minutes, so a
// receiver down for minutes gets what is due once it is back), asks
// Inhibit again before each retry (an alarm taken meanwhile needs no more
// calls), honours a receiver's Retry-After, and records every attempt
// (time, channel, attempt number, HTTP status, outcome) so that failures
// are visible on the alarm's timeline and in metrics. Time is injected:
// Now, Sleep and Rand in Config; tests run on testing/synctest.
//
// Messages are written in Chinese for the duty operators of a county
// network: the location path, the resident, the alarm type, how long it
// has waited, and the on-duty phone numbers @-mentioned (see Text).
//
// Notifiers and the Pipeline are safe for concurrent use. Secrets (webhook
// secrets, robot keys and tokens) never appear in errors or logs: request
// URLs are redacted in every error a notifier returns.
package notify
