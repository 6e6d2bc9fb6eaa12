package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"projectboard/store"
)

// Limits of a message. WeCom's robot refuses markdown content over 4,096 bytes; DingTalk
// takes more, but a group reads a short list better. Both robots take 20 messages a minute,
// so a commit that turns many projects red sends one list instead of a message each.
const (
	maxContentBytes = 4000
	maxListed       = 20
	// maxSingles is how many projects of one event in one commit get a message each; beyond
	// it they share one message.
	maxSingles = 5
)

// message is one reminder, rendered for both robots.
type message struct {
	Event string
	Title string
	Text  string // markdown, the subset both robots render
}

// messages renders an alert: one message per project, or one list when the commit holds more
// than maxSingles projects of the event; report_missing is one list per unit. base is the
// board's public address ("" for bare paths).
func messages(a alert, base string) []message {
	switch a.Event {
	case store.EventReportMissing:
		return []message{reportMissing(a, base)}
	case store.EventProjectRed, store.EventProblemOverdue:
		if len(a.Items) > maxSingles {
			return []message{projectList(a, base)}
		}
		out := make([]message, 0, len(a.Items))
		for _, it := range a.Items {
			out = append(out, project(a.Event, it, base))
		}
		return out
	}
	return nil
}

func heading(event string) string {
	switch event {
	case store.EventProjectRed:
		return "项目红色预警"
	case store.EventProblemOverdue:
		return "问题逾期提醒"
	case store.EventReportMissing:
		return "月报未报提醒"
	}
	return "测试消息"
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "未填写"
	}
	return s
}

func reasonText(rs []store.WarningReason) string {
	zh := make([]string, 0, len(rs))
	for _, r := range rs {
		zh = append(zh, r.Text("zh"))
	}
	return strings.Join(zh, "；")
}

// link is the project's page: a markdown link with a base address, else the path as text
// (a robot cannot open a relative link).
func link(base, id, label string) string {
	path := "/projects/" + url.PathEscape(id)
	if base == "" {
		return "详情：" + path
	}
	return "[" + label + "](" + strings.TrimRight(base, "/") + path + ")"
}

func project(event string, it item, base string) message {
	var title, what string
	switch event {
	case store.EventProjectRed:
		title, what = "项目转为红色："+it.Name, "预警转为**红色**"
	default:
		title, what = "问题逾期："+it.Name, "有问题逾期未解决"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n**%s**（%s）%s\n", heading(event), it.Name, it.ID, what)
	fmt.Fprintf(&b, "> 责任单位：%s\n", orNone(it.Department))
	fmt.Fprintf(&b, "> 包保领导：%s\n", orNone(it.Leader))
	fmt.Fprintf(&b, "> 原因：%s\n\n", reasonText(it.Reasons))
	b.WriteString(link(base, it.ID, "查看项目"))
	return message{Event: event, Title: title, Text: clipBytes(b.String(), maxContentBytes)}
}

func projectList(a alert, base string) message {
	var title, what string
	switch a.Event {
	case store.EventProjectRed:
		title = fmt.Sprintf("%d 个项目转为红色", len(a.Items))
		what = "预警转为红色"
	default:
		title = fmt.Sprintf("%d 个项目问题逾期", len(a.Items))
		what = "有问题逾期未解决"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n%d 个项目%s：\n", heading(a.Event), len(a.Items), what)
	for i, it := range a.Items {
		if i == maxListed {
			fmt.Fprintf(&b, "- ……另有 %d 个项目\n", len(a.Items)-maxListed)
			break
		}
		fmt.Fprintf(&b, "- **%s**（%s，包保领导 %s）：%s；%s\n", it.Name, orNone(it.Department), orNone(it.Leader),
			reasonText(it.Reasons), link(base, it.ID, "查看"))
	}
	return message{Event: a.Event, Title: title, Text: clipBytes(b.String(), maxContentBytes)}
}

func reportMissing(a alert, base string) message {
	unit := orNone(a.Unit)
	// The reason reads the same for every project of a month ("2022年10月月报截至 … 未报"):
	// said once when it is.
	common := ""
	if len(a.Items) > 0 && len(a.Items[0].Reasons) > 0 {
		common = a.Items[0].Reasons[0].Text("zh")
		for _, it := range a.Items[1:] {
			if len(it.Reasons) == 0 || it.Reasons[0].Text("zh") != common {
				common = ""
				break
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s：%s\n", heading(a.Event), unit)
	if common != "" {
		fmt.Fprintf(&b, "%s，共 %d 个项目：\n", common, len(a.Items))
	} else {
		fmt.Fprintf(&b, "%d 个项目的月报逾期未报：\n", len(a.Items))
	}
	for i, it := range a.Items {
		if i == maxListed {
			fmt.Fprintf(&b, "- ……另有 %d 个项目\n", len(a.Items)-maxListed)
			break
		}
		fmt.Fprintf(&b, "- **%s**（%s），包保领导 %s", it.Name, it.ID, orNone(it.Leader))
		if common == "" {
			b.WriteString("：" + reasonText(it.Reasons))
		}
		b.WriteString("；" + link(base, it.ID, "查看") + "\n")
	}
	return message{Event: a.Event, Title: "月报未报：" + unit, Text: clipBytes(b.String(), maxContentBytes)}
}

// testMessage is what the settings page's test button sends.
func testMessage(hookName string) message {
	return message{Event: store.EventTest, Title: "Projectboard 测试消息",
		Text: "### Projectboard 测试消息\n这是来自项目调度平台的测试消息（webhook：" + hookName + "）。收到即说明配置正确。"}
}

// body encodes a message as the robot of kind expects it.
func body(kind string, m message) string {
	var v any
	switch kind {
	case store.WebhookDingTalk:
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": m.Title, "text": m.Text}}
	default:
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": m.Text}}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings only
	}
	return string(b)
}

// clipBytes cuts s to at most n bytes on a character boundary, marking the cut.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "\n……"
	cut := n - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}
