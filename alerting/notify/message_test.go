package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
)

func TestAgeText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0 秒", 45 * time.Second: "45 秒", 119 * time.Second: "119 秒", 2 * time.Minute: "2 分钟",
		200 * time.Second: "3 分 20 秒", 65 * time.Minute: "1 小时 5 分钟",
	} {
		if got := notify.AgeText(d); got != want {
			t.Errorf("AgeText(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestTextHeadlines(t *testing.T) {
	tests := []struct {
		name string
		edit func(n *alerting.Notification)
		want string
	}{
		{"step", func(n *alerting.Notification) {}, "【安心 P1 生命安全】一键呼叫:已 45 秒无人响应(第 2 步升级)"},
		{"repeat", func(n *alerting.Notification) {
			n.Kind, n.Step, n.At = alerting.NoteRepeat, 4, raisedAt.Add(2*time.Minute)
		}, "【安心 P1 生命安全】一键呼叫:已 2 分钟无人响应(重复提醒)"},
		{"unattended", func(n *alerting.Notification) {
			n.Kind, n.Step, n.At = alerting.NoteUnattended, 1, raisedAt
			n.Alarm.Type = alerting.TypeSmoke
		}, "【安心 P1 生命安全】烟雾报警:当前无人值班,已 0 秒"},
		{"reminder", func(n *alerting.Notification) {
			n.Kind, n.Step, n.At = alerting.NoteReminder, 1, raisedAt.Add(10*time.Minute+20*time.Second)
			n.Alarm.State, n.Alarm.Owner, n.Alarm.Acked = alerting.Acknowledged, "李娜", raisedAt.Add(20*time.Second)
		}, "【安心 P1 生命安全】一键呼叫:李娜 已接警 10 分钟,尚未派人或处置(第 1 次提醒)"},
		{"a P3 fault", func(n *alerting.Notification) {
			n.Alarm.Priority, n.Alarm.Type = alerting.P3, alerting.TypeBatteryLow
		}, "【安心 P3 设备技术】电量低:已 45 秒无人响应(第 2 步升级)"},
		{"a fire incident", func(n *alerting.Notification) {
			n.Alarm.Type = alerting.IncidentFire
		}, "【安心 P1 生命安全】多处烟雾报警(疑似火情):已 45 秒无人响应(第 2 步升级)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := note()
			a := *n.Alarm
			n.Alarm = &a
			tt.edit(&n)
			got, _, _ := strings.Cut(notify.Text(n, nil), "\n")
			if got != tt.want {
				t.Errorf("headline %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTextInTheConfiguredZone(t *testing.T) {
	urumqi, err := time.LoadLocation("Asia/Urumqi")
	if err != nil {
		t.Fatal(err)
	}
	if got := notify.Text(note(), urumqi); !strings.Contains(got, "时间:2026-11-23 08:00:00 触发") {
		t.Fatalf("text in Urumqi time:\n%s", got)
	}
}
