package notify

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anxin-care/anxin/alerting"
)

// DefaultLocation is the zone messages show times in when a notifier's
// config names none: China Standard Time, UTC+8 all year (Asia/Shanghai).
var DefaultLocation = time.FixedZone("CST", 8*60*60)

// TypeNames are the alarm types as operators read them.
var TypeNames = map[string]string{
	alerting.TypeCall:       "一键呼叫",
	alerting.TypePullcord:   "拉绳呼叫",
	alerting.TypeSmoke:      "烟雾报警",
	alerting.TypeGas:        "燃气报警",
	alerting.TypeSOS:        "SOS 求救",
	alerting.TypeFall:       "跌倒",
	alerting.TypeBandOff:    "手环摘除",
	alerting.TypeGeofence:   "走出安全区域",
	alerting.TypeHeartRate:  "心率异常",
	alerting.TypeBedExit:    "夜间离床",
	alerting.TypeTamper:     "设备被拆",
	alerting.TypeBatteryLow: "电量低",
	alerting.TypeFault:      "设备故障",
	alerting.TypeOffline:    "设备离线",

	alerting.IncidentFire:        "多处烟雾报警(疑似火情)",
	alerting.IncidentSmokeGas:    "烟雾与燃气同时报警",
	alerting.IncidentSiteOffline: "站点设备成批离线",
}

// PriorityNames say what each priority is for.
var PriorityNames = map[alerting.Priority]string{
	alerting.P1: "P1 生命安全",
	alerting.P2: "P2 健康关注",
	alerting.P3: "P3 设备技术",
}

// TypeName returns the Chinese name of an alarm type, or the type itself.
func TypeName(t string) string {
	if s, ok := TypeNames[t]; ok {
		return s
	}
	return t
}

// AgeText writes a duration the way a duty operator reads it: "45 秒",
// "3 分 20 秒", "1 小时 5 分钟".
func AgeText(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 120:
		return fmt.Sprintf("%d 秒", s)
	case s < 3600 && s%60 == 0:
		return fmt.Sprintf("%d 分钟", s/60)
	case s < 3600:
		return fmt.Sprintf("%d 分 %d 秒", s/60, s%60)
	default:
		return fmt.Sprintf("%d 小时 %d 分钟", s/3600, s%3600/60)
	}
}

// textStyle is how one channel wants mentions written.
type textStyle struct {
	loc *time.Location
	// atPhones writes "@13800001111" for each mention in the text, which
	// DingTalk needs to highlight them; WeCom mentions through its own
	// list and gets names instead.
	atPhones bool
	markdown bool
}

// Text renders a notification as the Chinese message a group robot posts:
//
//	【安心 P1 生命安全】一键呼叫:已 45 秒无人响应(第 2 步升级)
//	位置:青山县 / 青山镇 / 青山村 / 12号 / 卧室
//	老人:王秀英,82 岁,高血压
//	时间:2026-11-23 10:00:00 触发,共 2 次
//	告警:A-mho2xa-1 设备 btn-101
//	请立即处理:@13800001111 @13900002222
func Text(n alerting.Notification, loc *time.Location) string {
	return render(n, textStyle{loc: loc, atPhones: true})
}

func render(n alerting.Notification, st textStyle) string {
	if st.loc == nil {
		st.loc = DefaultLocation
	}
	a := n.Alarm
	if a == nil {
		a = &alerting.Alarm{}
	}
	var b strings.Builder
	line := func(label, format string, args ...any) {
		if st.markdown {
			fmt.Fprintf(&b, "> **%s**:", label)
		} else {
			fmt.Fprintf(&b, "%s:", label)
		}
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\n")
	}
	pri := PriorityNames[a.Priority]
	if pri == "" {
		pri = a.Priority.String()
	}
	title := fmt.Sprintf("【安心 %s】%s:%s", pri, TypeName(a.Type), headline(n))
	if st.markdown {
		title = "### " + title
	}
	b.WriteString(title + "\n")
	if len(n.Location) > 0 {
		line("位置", "%s", strings.Join(n.Location, " / "))
	}
	if r := n.Resident; r.Name != "" {
		who := r.Name
		if r.Age > 0 {
			who += fmt.Sprintf(",%d 岁", r.Age)
		}
		if len(r.Conditions) > 0 {
			who += "," + strings.Join(r.Conditions, "、")
		}
		line("老人", "%s", who)
	}
	when := fmt.Sprintf("%s 触发", a.Raised.In(st.loc).Format("2006-01-02 15:04:05"))
	if a.Count > 1 {
		when += fmt.Sprintf(",共 %d 次", a.Count)
	}
	line("时间", "%s", when)
	if a.IsSite() {
		line("告警", "%s 站点 %s", a.ID, a.Site)
	} else {
		line("告警", "%s 设备 %s", a.ID, a.Device)
	}
	if len(n.Contacts) > 0 {
		var cs []string
		for _, c := range n.Contacts {
			s := c.Name
			if c.Relation != "" {
				s += "(" + c.Relation + ")"
			}
			cs = append(cs, s+" "+c.Phone)
		}
		line("紧急联系人", "%s", strings.Join(cs, ";"))
	}
	if who := mentionText(n, st); who != "" {
		line("请立即处理", "%s", who)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// headline says how long and why, in the words of the notification's kind.
func headline(n alerting.Notification) string {
	age := AgeText(n.Age())
	switch n.Kind {
	case alerting.NoteUnattended:
		return fmt.Sprintf("当前无人值班,已 %s", age)
	case alerting.NoteRepeat:
		return fmt.Sprintf("已 %s无人响应(重复提醒)", age)
	case alerting.NoteReminder:
		owner, since := "", AgeText(0)
		if n.Alarm != nil {
			owner = n.Alarm.Owner
			if !n.Alarm.Acked.IsZero() {
				since = AgeText(n.At.Sub(n.Alarm.Acked))
			}
		}
		return fmt.Sprintf("%s 已接警 %s,尚未派人或处置(第 %d 次提醒)", owner, since, n.Step)
	default:
		return fmt.Sprintf("已 %s无人响应(第 %d 步升级)", age, n.Step)
	}
}

func mentionText(n alerting.Notification, st textStyle) string {
	var parts []string
	if st.atPhones {
		for _, p := range n.Mentions {
			parts = append(parts, "@"+p)
		}
		return strings.Join(parts, " ")
	}
	for _, op := range n.Recipients {
		if op.Name != "" {
			parts = append(parts, op.Name)
		}
	}
	return strings.Join(parts, " ")
}

// truncate cuts s to at most max bytes on a rune boundary, marking the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
